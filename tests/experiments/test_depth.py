"""The depth experiment: route shares under the ternary prior against a numpy brute force over every
configuration, sampled shares against the exact ones, the lesion tally against direct lesions,
equal-parameter sizes, the config's errors, and reruns / resumes giving identical tables."""

from __future__ import annotations

import itertools
import signal

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from conftest import cli
from counting.analytic.placements import RULES, placement_ratio
from counting.boolean.cube import cube
from counting.engine.enumeration import Enumeration, enumerated_spec, enumeration_plan
from counting.engine.priors import unflatten
from counting.engine.run import RunOptions, run_pass
from counting.experiments import parse_experiment, run_experiment
from counting.experiments.depth.plan import equal_params_model, square_model
from counting.experiments.depth.tables import CLASS_NAMES, classes_from_joint, ratio_interval
from counting.experiments.depth.tally import LesionTally, RouteTally
from counting.mechanisms.lesions import longest_used_path, used_blocks
from counting.mechanisms.routes import DECOMPOSITIONS, decode_placement, never
from counting.models import forward, n_params
from counting.spec import MLPSpec, ResMLPSpec
from counting.spec.errors import SpecError
from counting.spec.estimator import ExactSettings
from counting.spec.job import Spec, sampling_spec
from counting.spec.prior import parse_prior
from counting.stats import clopper_pearson_many

TERNARY = parse_prior({"kind": "ternary"})
TINY = MLPSpec(n_inputs=4, widths=(2, 1))  # 10 + 3 + 2 = 15 parameters: 3**15 configurations
N = 4


def _pattern(v: np.ndarray) -> np.ndarray:
    """Sign pattern of every unit as an integer: bit i is ``v[..., i] > 0``."""
    return ((v > 0).astype(np.int64) << np.arange(v.shape[-1])).sum(axis=-1)


def _brute_force_joint(model, params, d) -> dict:
    """Counts of (chain placement, tree placement) among the solutions, by direct comparisons of
    every unit's sign pattern with every intermediate, written without the package's route code."""
    fwd = forward(model, params, jnp.asarray(cube(N)))
    full = (1 << 2**N) - 1
    out_table = _pattern(np.asarray(fwd.output))
    if isinstance(model, ResMLPSpec):
        numbered = [(0, ["embed"])] + [(k, [f"block{k}", f"stream{k}"]) for k in range(1, model.depth + 1)]
    else:
        numbered = [(k, [f"layer{k}"]) for k in range(1, len(model.widths) + 1)]
    nv = numbered[-1][0] + 1
    pats = {s: np.concatenate([_pattern(np.asarray(fwd.sites[x])) for x in sites], axis=1) for s, sites in numbered}
    held_at = {}
    for g in d.intermediates:
        first = np.full(out_table.shape, nv)
        for s, _ in reversed(numbered):
            h = np.any((pats[s] == g) | (pats[s] == (full ^ g)), axis=1)
            first = np.where(h, s, first)
        held_at[g] = first
    sol = out_table == d.target
    place = []
    for route in d.routes:
        lo_best = np.full(out_table.shape, -1)
        hi_best = np.full(out_table.shape, nv + 1)
        for alt in route.alternatives:
            st = np.sort(np.stack([held_at[g if g & 1 == 0 else full ^ g] for g in alt]), axis=0)  # 0 on point 0
            better = (st[-1] < nv) & ((st[-1] < hi_best) | ((st[-1] == hi_best) & (st[0] < lo_best)))
            lo_best, hi_best = np.where(better, st[0], lo_best), np.where(better, st[-1], hi_best)
        place.append([None if h > nv else (int(lo), int(h)) for lo, h in zip(lo_best[sol], hi_best[sol])])
    counts: dict = {}
    for key in zip(*place):
        counts[key] = counts.get(key, 0) + 1
    return counts


def _decoded(joint, model):
    nv = never(model)
    c = (nv + 1) ** 2
    out = {}
    for code in np.flatnonzero(joint):
        a, b = divmod(int(code), c)
        out[(decode_placement(a, nv), decode_placement(b, nv))] = int(joint[code])
    return out


@pytest.fixture(scope="module")
def exact_joint():
    spec = Spec(TINY, TERNARY, None, ExactSettings())
    decs = [DECOMPOSITIONS["and4"], DECOMPOSITIONS["parity4"]]
    tally = RouteTally(TINY, decs, kind="test")
    run_pass(enumerated_spec(spec), tally, RunOptions(progress=False), Enumeration(spec))
    return spec, decs, tally.finalize()[:, 0]  # among the solutions


@pytest.mark.slow  # every configuration of a 15-parameter network, twice (about 1 minute)
def test_exact_route_placements_equal_a_brute_force(exact_joint):
    """Every configuration of a 4-2-1-1 network under the ternary prior: the tally's joint placement
    histogram equals, cell by cell, a direct classification of each configuration."""
    spec, decs, joint = exact_joint
    total = enumeration_plan(spec).total
    want = [{}, {}]
    step = 3**13
    for start in range(0, total, step):
        idx = np.arange(start, min(start + step, total))
        flat = np.stack([(idx // 3**j) % 3 for j in range(n_params(TINY))], axis=1).astype(np.float32) - 1
        params = unflatten(TINY, jnp.asarray(flat))
        for w, d in zip(want, decs):
            for k, v in _brute_force_joint(TINY, params, d).items():
                w[k] = w.get(k, 0) + v
    for w, got in zip(want, joint):
        assert _decoded(got, TINY) == w
    # the test has teeth: some and4 solutions take the tree (two pair ANDs in layer 1, combined in
    # layer 2) and some take neither route; none can take the chain (layer 1 would need x3 as well)
    c = classes_from_joint(joint[0], never(TINY))
    assert c["tree only"] > 0 and c["neither"] > 0 and c["both"] + c["chain only"] == 0, c


@pytest.mark.slow  # shares the enumeration above
def test_sampled_shares_match_the_exact_ones(exact_joint):
    """Hit-or-miss under the same ternary prior: each class share's 99.9% Clopper-Pearson interval
    holds the exact share, and so does the hit rate's (false-failure rate below 5 x 0.001 before fixing
    the key)."""
    spec, decs, joint = exact_joint
    exact = classes_from_joint(joint[0], never(TINY))
    n_exact = sum(exact.values())
    tally = RouteTally(TINY, decs[:1], kind="test")
    draws = 2**21
    run_pass(sampling_spec(TINY, TERNARY, draws, seed=3, chunk_size=2**16), tally, RunOptions(progress=False))
    got = classes_from_joint(tally.finalize()[0, 0], never(TINY))
    n = sum(got.values())
    lo, hi = clopper_pearson_many(np.array([n]), draws, conf=0.999)  # the hit rate itself
    assert n > 500 and lo[0] <= n_exact / 3**15 <= hi[0], (n, n_exact)
    k = np.array([got[c] for c in CLASS_NAMES])
    lo, hi = clopper_pearson_many(k, n, conf=0.999)
    for c, a, b in zip(CLASS_NAMES, np.atleast_1d(lo), np.atleast_1d(hi)):
        assert a <= exact[c] / n_exact <= b, (c, a, exact[c] / n_exact, b)


def test_lesion_tally_equals_direct_lesions():
    """The lesion histogram built inside the counting pass equals used blocks and longest used paths
    computed directly on the same configurations (every one of a tiny residual MLP)."""
    m = ResMLPSpec(n_inputs=4, width=1, depth=2, hidden=1)  # 5 + 2 * 4 + 2 = 15 parameters
    spec = Spec(m, TERNARY, None, ExactSettings())
    total = 3**11  # the configurations whose last four parameters are all -1: a slice of the enumeration
    tally = LesionTally(m, (0x8000,), kind="test")
    es = enumerated_spec(spec)
    plan = enumeration_plan(spec)
    es = Spec(es.model, es.prior, None, type(es.estimator)(**{**es.estimator.__dict__, "samples": total}))
    run_pass(es, tally, RunOptions(progress=False), Enumeration(spec))
    flat = np.stack([(np.arange(total) // 3**j) % 3 for j in range(n_params(m))], axis=1).astype(np.float32) - 1
    params = unflatten(m, jnp.asarray(flat))
    u = np.asarray(jnp.sum(used_blocks(m, params, N), axis=-1))
    p = np.asarray(longest_used_path(m, params, N))
    want = np.bincount(u * 3 + p, minlength=9)
    got = tally.finalize()
    assert plan.total == 3**15 and (got[0] == want).all() and got[0].sum() == total
    assert (want[[1, 2, 4, 5, 8]] > 0).any()  # some networks use blocks


@pytest.mark.slow  # two passes of two tallies at two batch sizes (about 10 s)
def test_tallies_do_not_depend_on_the_batch_size():
    m = square_model("resmlp", 4, 3, 4)
    spec = sampling_spec(m, parse_prior({}), 4096, seed=1, chunk_size=1024)
    got = []
    for bs in (1024, 128):
        t1, t2 = RouteTally(m, [DECOMPOSITIONS["and4"]], "t"), LesionTally(m, (0x8000,), "t")
        run_pass(spec, t1, RunOptions(progress=False, batch_size=bs))
        run_pass(spec, t2, RunOptions(progress=False, batch_size=bs))
        got.append((t1.finalize(), t2.finalize()))
    assert all((a == b).all() for a, b in zip(got[0], got[1]))


@pytest.mark.parametrize("kind", ["mlp", "resmlp"])
@pytest.mark.parametrize("depth", [1, 3, 8])
def test_equal_params_model_is_the_nearest_square_network(kind, depth):
    m = equal_params_model(kind, 4, depth, 600)
    gaps = [abs(n_params(square_model(kind, 4, depth, w)) - 600) for w in range(1, 120)]
    assert abs(n_params(m) - 600) == min(gaps)


def test_ratio_interval_covers_the_truth():
    """Jeffreys-Dirichlet interval of (both + tree only) / (both + chain only): it holds the true
    ratio for multinomial counts drawn with it (at least 90 of 100 draws, nominal 95)."""
    rng = np.random.default_rng(0)
    p = np.array([0.1, 0.2, 0.3, 0.4])
    truth = (p[0] + p[2]) / (p[0] + p[1])
    hits = sum(lo <= truth <= hi for lo, hi in (ratio_interval(rng.multinomial(400, p), draws=4000)
                                                for _ in range(100)))
    assert hits >= 90


CONFIG = """
[experiment]
kind = "depth"
chunk_size = 1024
[[target]]
name = "and4"
truth_table = "0x8000"
[[target]]
name = "dictator"
truth_table = "0xaaaa"
[bias]
depths = [3]
params = 200
samples = 3072
rare = ["dictator"]
[bias.estimator]
kind = "smc"
particles = 50
steps = 2
replicates = 2
[lesions]
depths = [2]
params = 200
samples = 2048
[routes]
decompositions = ["and4", "parity4"]
widths = [4]
depths = [3]
samples = 2048
rare = ["and4"]
[routes.estimator]
kind = "smc"
particles = 100
steps = 2
replicates = 3
"""


@pytest.mark.slow  # every part end to end, SMC included (about 30 s; the notebook runs them all by default)
def test_tables_hold_what_the_parts_promise():
    exp = parse_experiment(CONFIG)
    t = run_experiment(exp, progress=False)
    assert sorted(t) == ["bias", "lesion_summary", "lesions", "placement_rules", "placements", "routes"]
    assert len(t["placement_rules"]) == len(RULES) * len(t["routes"])  # every rule for every routes row
    assert t["bias"]["hits"].sum() > 0 and set(t["bias"]["model"]) == {"mlp", "resmlp"}
    smc = t["bias"][t["bias"]["method"] == "smc"]
    assert list(smc["target"]) == ["dictator"] * 2 and (smc["replicates"] == 2).all()
    assert smc["log10_volume"].notna().all()
    s = t["lesion_summary"]
    assert (s[s["group"] == "all"]["n"] == 2048).all()
    r = t["routes"]
    assert list(r["method"]) == ["mc", "mc", "smc"] and (r["placement_ratio"] == float(placement_ratio(3, 1))).all()
    smc = r[r["method"] == "smc"].iloc[0]
    assert smc["replicates"] == 3


BAD = [
    (lambda s: s.replace("[bias]", "[bias]\nparms = 3", 1), "bias.parms: expected"),
    (lambda s: s.replace("depths = [3]", "depths = [0]", 1), "bias.depths[0]: expected"),
    (lambda s: s.replace('rare = ["and4"]', 'rare = ["xor_and"]', 1), "routes.rare[0]: expected"),
    (lambda s: s.replace('decompositions = ["and4", "parity4"]', 'decompositions = ["and5"]', 1),
     "routes.decompositions[0]: expected"),
    (lambda s: s.replace("replicates = 3", "replicates = 1", 1), "routes.estimator.replicates: expected"),
    (lambda s: s.replace('kind = "smc"\nparticles = 100', 'kind = "subset"\nparticles = 100', 1),
     "routes.estimator.kind: expected one of ['smc', 'readout']"),
    (lambda s: s.replace("replicates = 3", "replicates = 3\nseed = 4", 1), "routes.estimator.seed: expected no seed"),
    (lambda s: s.replace("[routes.estimator]", "[routes.estimators]", 1), "routes.estimators: expected"),
    (lambda s: s.replace("[experiment]", "[experiment]\nname = 'a/b'", 1), "experiment.name: expected"),
    (lambda s: s.replace("chunk_size = 1024", "chunk_size = 0", 1), "experiment.chunk_size: expected"),
    # the old form, SMC settings as keys of the part, names the new one
    (lambda s: s.replace("[routes.estimator]\nkind = \"smc\"\n", "", 1),
     'routes.particles: expected no particles here: moved to [routes.estimator] (kind = "smc"), got 100'),
    (lambda s: s.replace("[bias.estimator]\nkind = \"smc\"\n", "", 1),
     'bias.particles: expected no particles here: moved to [bias.estimator] (kind = "smc"), got 50'),
    (lambda s: s.replace('truth_table = "0x8000"', 'truth_table = "0x80"', 1), "target[0].truth_table"),
    (lambda s: s + '\n[prior]\nkind = "ternary"\n', "prior.kind: expected a continuous prior"),
]


@pytest.mark.parametrize("edit,message", BAD)
def test_bad_configs_get_one_line_errors(edit, message):
    with pytest.raises(SpecError) as e:
        parse_experiment(edit(CONFIG))
    assert str(e.value).startswith(message.split(":")[0]) and message in str(e.value) and "\n" not in str(e.value)


@pytest.mark.slow  # end to end through the CLI, stopped twice (about 90 s)
def test_run_is_identical_when_rerun_and_when_resumed(tmp_path):
    cfg = tmp_path / "depth.toml"
    cfg.write_text(CONFIG)
    r = cli("run", cfg, "--out", tmp_path / "a", "--work", tmp_path / "wa", "--no-progress")
    assert r.returncode == 0, r.stderr
    r = cli("run", cfg, "--out", tmp_path / "b", "--work", tmp_path / "wb", "--no-progress")
    assert r.returncode == 0, r.stderr
    # stopped in the middle of a counting pass, then again between two SMC replicates
    r = cli("run", cfg, "--out", tmp_path / "c", "--work", tmp_path / "wc", "--no-progress",
            "--checkpoint-seconds", 0, env_extra={"COUNTING_KILL_AFTER_CHUNKS": "2"})
    assert r.returncode == -signal.SIGKILL
    r = cli("run", cfg, "--out", tmp_path / "c", "--work", tmp_path / "wc", "--no-progress", "--resume",
            env_extra={"COUNTING_SIGNAL_AT": "TERM@save:2"})
    assert r.returncode == 128 + signal.SIGTERM, r.stderr
    r = cli("run", cfg, "--out", tmp_path / "c", "--work", tmp_path / "wc", "--no-progress", "--resume",
            "--batch-size", 256)
    assert r.returncode == 0, r.stderr
    for k in ("bias", "lesions", "lesion_summary", "routes", "placements"):
        a = pd.read_parquet(tmp_path / "a" / f"{k}.parquet")
        for other in ("b", "c"):
            pd.testing.assert_frame_equal(a, pd.read_parquet(tmp_path / other / f"{k}.parquet"))
    assert {"depth_bias.png", "lesions.png", "routes.png"} <= {p.name for p in (tmp_path / "a").iterdir()}


def test_target_hits_equal_the_hit_predicate_on_every_configuration():
    """Every configuration of a 4-input ternary perceptron (3**5): the per-target counts equal the
    package's own hit-or-miss predicate, target by target."""
    from counting.engine.tally import Hits
    from counting.mechanisms.predicates import computes
    from counting.experiments.depth.tally import TargetHits
    m = MLPSpec(n_inputs=4, widths=())
    spec = Spec(m, TERNARY, None, ExactSettings())
    targets = (0x8888, 0xeeee, 0xaaaa, 0x6996)  # x0 and x1, x0 or x1, x0, parity
    t = TargetHits(targets, kind="test")
    run_pass(enumerated_spec(spec), t, RunOptions(progress=False), Enumeration(spec))
    want = []
    for g in targets:
        h = Hits(computes(g, 4))
        run_pass(enumerated_spec(spec), h, RunOptions(progress=False), Enumeration(spec))
        want.append(h.finalize())
    assert t.finalize().tolist() == want and want[0] > 0 and want[3] == 0  # parity is not a threshold function


def test_placement_codes_decode_to_placement():
    """The device-side placement code of random first stages decodes to the host-side placement."""
    from counting.mechanisms.routes import placement, placement_codes
    rng = np.random.default_rng(0)
    first = rng.integers(0, 6, size=(2000, 4))
    alts = ((0, 1), (2, 3), (1, 3))
    codes = np.asarray(placement_codes(first, alts, 5))
    want = placement(first, alts, 5)
    for c, w in zip(codes, want):
        d = decode_placement(int(c), 5)
        assert (d is None and (w == 5).all()) or tuple(w) == d
    assert (codes == 35).any() and (codes < 35).any()  # both taken and not taken occur


# --- the ordered readings of the chain ---

@pytest.mark.slow  # a counting pass and its direct classification (about 12 s)
def test_order_tally_agrees_with_a_direct_classification():
    """A route pass with ``order=True``: ``hist`` is the same as without it; the ``order`` histogram
    read under "any" gives the classes of ``hist``, and under each reading the classes of
    :func:`route_class` on the same networks (first sites read directly)."""
    from counting.engine.priors import sample_params
    from counting.experiments.depth.tables import classes_from_order
    from counting.mechanisms.routes import ORDERS, first_sites, route_class, site_order, site_stages
    m = square_model("resmlp", 4, 3, 6)
    d = DECOMPOSITIONS["and4"]
    spec = sampling_spec(m, parse_prior({}), 4096, seed=2, chunk_size=1024)
    plain, ordered = RouteTally(m, [d], "t"), RouteTally(m, [d], "t", order=True)
    run_pass(spec, plain, RunOptions(progress=False))
    run_pass(spec, ordered, RunOptions(progress=False))
    got = ordered.finalize()
    assert (got["hist"] == plain.finalize()).all()
    prior_hist, prior_order = got["hist"][0, 1], got["order"][0, 1]
    assert classes_from_order(prior_order, "any") == classes_from_joint(prior_hist, never(m))
    assert classes_from_order(got["order"][0, 0], "any") == classes_from_joint(got["hist"][0, 0], never(m))
    # the readings nest, and some networks tell them apart
    chain = [sum(classes_from_order(prior_order, r)[c] for c in ("both", "chain only")) for r in ORDERS]
    assert chain == sorted(chain, reverse=True) and chain[0] > chain[-1] > 0, chain
    # direct: prior networks of the same model, classified one reading at a time
    params = sample_params(jax.random.key(5), m, parse_prior({}), batch=2048)
    fwd = forward(m, params, jnp.asarray(cube(4)))
    sites = np.asarray(first_sites(fwd, m, d.intermediates, 4))
    from counting.experiments.depth.tally import route_codes
    _, levels = route_codes(fwd, m, d)
    hist = np.bincount(np.asarray(levels), minlength=25)
    names = {"both": "both", "first only": "chain only", "second only": "tree only", "neither": "neither"}
    for r in ORDERS:
        cls = route_class(sites, d, len(site_order(m)), r, site_stages(m))
        direct = {names[c]: int((cls == c).sum()) for c in names}
        assert classes_from_order(hist, r) == direct, r


def test_route_rows_give_the_ordered_ratio_beside_the_unordered_one():
    from counting.experiments.depth.tables import LEVEL_NAMES, route_rows
    d = DECOMPOSITIONS["and4"]
    order = np.zeros((5, 5), np.int64)
    order[4, 0], order[1, 0], order[2, 0], order[0, 4], order[4, 4], order[0, 0] = 30, 10, 10, 20, 5, 25
    counts = {"both": 5, "chain only": 50, "tree only": 20, "neither": 25}
    row = route_rows(d, {"depth": 4}, 5, "mc", counts, None, {}, 100, order.ravel())
    assert row["takes_chain"] == 0.55 and row["takes_chain_ordered"] == row["takes_chain_strict"] == 0.35
    assert row["takes_chain_weak"] == 0.45 and row["takes_tree_ordered"] == row["takes_tree"] == 0.25
    assert row["ratio_tree_chain_ordered"] == pytest.approx(0.25 / 0.35)
    assert (row["ratio_ordered_lo"], row["ratio_ordered_hi"]) == ratio_interval(np.array([5, 30, 20, 45]))
    assert row["ratio_ordered_lo"] < row["ratio_tree_chain_ordered"] < row["ratio_ordered_hi"]
    assert [row[k] for k in LEVEL_NAMES] == pytest.approx([10 / 55, 10 / 55, 0, 35 / 55])
    # SMC: per-replicate shares, Student-t intervals, the ratio's the quotient of the two intervals
    per = np.array([[0.05, 0.5, 0.2, 0.25]] * 2)
    row = route_rows(d, {"depth": 4}, 5, "smc", counts, per, {}, 100, order.ravel(), [order.ravel()] * 2)
    assert row["takes_chain_ordered"] == pytest.approx(0.35) and row["takes_chain"] == pytest.approx(0.55)
    assert row["ratio_tree_chain_ordered"] == pytest.approx(0.25 / 0.35)
