"""The llamaizer experiment: its tally on hand-built networks, exact shares under the ternary prior
against a numpy brute force, sampled shares against the exact ones, the orbit symmetrization,
targets never hit, reruns and resumes, bad input."""

import functools
import itertools
import math
import signal

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from conftest import cli

from counting.boolean.cube import cube
from counting.boolean.symmetry import orbit_transport
from counting.experiments import (check_batch_size, load_experiment, parse_experiment, run_experiment, summary,
                                  with_samples)
from counting.experiments.llamaizer import count_pass
from counting.experiments.llamaizer.config import Family
from counting.spec.target import Target
from counting.experiments.llamaizer.plan import plan_target
from counting.experiments.llamaizer.tally import LlamaizerTally
from counting.mechanisms.sites import holds
from counting.models.layers import Forward
from counting.spec.errors import SpecError
from counting.stats import clopper_pearson_many

LLAMAS = ["0xf0", "0x80", "0xe8", "0x96", "0xaa", "0x88", "0xc0"]  # x2, and3, maj3, parity3, x0, and01, x1&x2


def config(estimator: str, samples: int = 1, prior: str = "ternary", widths=((2,), (2, 1)),
           activation: str = "step", chunk: int = 4096) -> str:
    archs = "\n".join(f'[[architecture]]\nname = "w{"-".join(map(str, w))}"\nwidths = {list(w)}\n'
                      f'activation = "{activation}"\n' for w in widths)
    return f"""
[experiment]
n_inputs = 3
samples = {samples}
chunk_size = {chunk}
seed = 5
[estimator]
kind = "{estimator}"
[prior]
kind = "{prior}"
{archs}
[[target]]
name = "and01"
truth_table = "0x88"
[[target]]
name = "x0"
truth_table = "0xaa"
[[family]]
name = "ignored"
kind = "ignored_bits"
[[family]]
name = "named"
kind = "named"
truth_tables = {LLAMAS!r}
""".replace("'", '"')


@functools.lru_cache(maxsize=None)
def unit_tables(widths: tuple[int, ...]) -> list[np.ndarray]:
    """Every ternary configuration of a 3-w...-1 step network, in plain numpy: each layer's unit
    truth tables ``[configurations, units]`` (the last layer: the output)."""
    sizes = [3, *widths, 1]
    n_par = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    grid = np.array(list(itertools.product((-1.0, 0.0, 1.0), repeat=n_par)), np.float32)
    h, k, tables = cube(3)[None].repeat(len(grid), 0), 0, []  # [N, 8, in]
    bits = 1 << np.arange(8)
    for a, b in zip(sizes[:-1], sizes[1:]):
        w = grid[:, k:k + a * b].reshape(-1, a, b)
        bias = grid[:, k + a * b:k + a * b + b]
        k += a * b + b
        z = np.einsum("npa,nab->npb", h, w) + bias[:, None, :]
        tables.append(((z > 0) * bits[None, :, None]).sum(1))  # [N, b] unit truth tables
        h = (z > 0).astype(np.float32)
    return tables


def brute_force(widths: tuple[int, ...], f: int, llamas: list[int]):
    """The number of configurations computing ``f`` and, for each llama, the number computing ``f``
    whose layer ``l`` holds it, per layer (:func:`unit_tables`)."""
    tables = unit_tables(tuple(widths))
    is_f = tables[-1][:, 0] == f
    held = np.zeros((len(widths), len(llamas)), np.int64)
    for l in range(len(widths)):
        for j, g in enumerate(llamas):
            has = np.any((tables[l] == g) | (tables[l] == (0xFF ^ g)), axis=1)
            held[l, j] = np.sum(is_f & has)
    return int(is_f.sum()), held


def brute_force_units(widths: tuple[int, ...], f: int, llamas: list[int]):
    """Like :func:`brute_force`, the per-unit counts: for each layer and llama, over the
    configurations computing ``f`` and over all of them, the sums of ``c`` and ``c**2``, ``c`` the
    number of the layer's units holding the llama (pattern ``g`` or ``not g``)."""
    tables = unit_tables(tuple(widths))
    is_f = tables[-1][:, 0] == f
    out = np.zeros((4, len(widths), len(llamas)), np.int64)  # units, units_sq, prior_units, prior_units_sq
    for l in range(len(widths)):
        for j, g in enumerate(llamas):
            c = np.sum((tables[l] == g) | (tables[l] == (0xFF ^ g)), axis=1).astype(np.int64)
            out[:, l, j] = [c[is_f].sum(), (c[is_f] ** 2).sum(), c.sum(), (c ** 2).sum()]
    return int(is_f.sum()), out


def _pre(tables, n_points=4):
    """Pre-activations whose sign patterns are the given truth tables: [..., points]."""
    t = np.asarray(tables)[..., None]
    return jnp.asarray(np.where((t >> np.arange(n_points)) & 1, 1.0, -1.0), jnp.float32)


def test_tally_counts_hand_built_networks():
    """Four hand-built 2-2-2-1 networks, target AND on 2 bits, llamas x1, x0 and xor: the counts
    match the site predicate "layer l holds g" (counting.mechanisms.sites.holds, with the llamas
    carried over f's orbit) network by network, and the prior counts match a count by hand."""
    n, llamas = 2, (0xC, 0xA, 0x6)
    plan = plan_target(Target(0x8, n, "and"), (Family("named", "named", truth_tables=llamas),), n)
    assert plan.llamas == llamas
    out = [0x8, 0x1, 0x6, 0x8]  # AND, NOR (in AND's orbit), XOR (not), AND but not counted
    layer1 = [[0xC, 0x6], [0x3, 0x0], [0xC, 0xC], [0xC, 0xC]]  # 0x3 is not x1: it holds x1
    layer2 = [[0xC, 0x5], [0xA, 0x6], [0xC, 0x0], [0xC, 0xC]]  # 0x5 is not x0
    fwd = Forward(output=_pre(out), sites={"layer1": _pre(layer1), "layer2": _pre(layer2)})
    valid = jnp.asarray([True, True, True, False])
    tally = LlamaizerTally((plan,), n_layers=2, n_inputs=n, kind="test")
    tally.add(jax.tree.map(lambda a: np.asarray(a)[None, None], jax.jit(tally.reduce)(fwd, valid)), np.array([3]))
    c = tally.finalize()["and"]

    row = {int(h): k for k, h in enumerate(plan.orbit)}
    held, kept, union = np.zeros((3, 3), np.int64), np.zeros(3, np.int64), np.zeros((3, 3), np.int64)
    for b in range(3):
        if out[b] not in row:
            continue
        carried = [int(g) for g in plan.transported[row[out[b]]]]
        has = np.array([[bool(holds(f"layer{l}", g, n)(fwd)[b]) for g in carried] for l in (1, 2)])
        rows = np.vstack([has, has.any(axis=0)])  # layer 1, layer 2, any
        held += rows
        kept += has[0] & has[1]
        union += np.stack([rows[:, :k].any(axis=1) for k in (1, 2, 3)], axis=1)
    assert c.n_f == 2
    np.testing.assert_array_equal(c.held, held)
    np.testing.assert_array_equal(c.kept, kept)
    np.testing.assert_array_equal(c.unions["named"], union)
    np.testing.assert_array_equal(c.prior_held, [[3, 0, 1], [2, 2, 1], [3, 2, 2]])  # by hand: nets 0, 1, 2
    assert held[:2].sum() > 0 and held[0].tolist() != held[1].tolist()  # not vacuous


@pytest.fixture(scope="module")
def exact_tables():
    exp = parse_experiment(config("exact"))
    return exp, run_experiment(exp)


def test_exact_shares_equal_a_brute_force(exact_tables):
    """Enumerating every configuration, the symmetrized counts give exactly the brute force's
    shares V(f and layer l holds g) / V(f) for every target, llama and layer (as fractions)."""
    exp, res = exact_tables
    cost = res["cost"]
    for arch in exp.architectures:
        for t in exp.targets:
            plan = plan_target(t, exp.families, exp.n_inputs)
            llamas = [int(g) for g in plan.llamas]
            n_f, held = brute_force(arch.widths, t.truth_table, llamas)
            assert n_f > 0
            sub = cost[(cost.architecture == arch.name) & (cost.target == t.name)]
            for l in range(len(arch.widths)):
                rows = sub[sub.layer == str(l + 1)].set_index("llama")
                for j, g in enumerate(llamas):
                    r = rows.loc[f"0x{g:02x}"]
                    # symmetrized counts are |orbit| times the plain ones: compare the fractions
                    assert r.n_f_and_g * n_f == held[l, j] * r.n_f, (arch.name, t.name, l, hex(g))
            assert held.sum() > 0  # some llama is held: the comparison is not vacuous


def test_exact_unit_counts_equal_a_brute_force(exact_tables):
    """Per-unit counts under the enumerated ternary prior: every configuration's units counted by a
    numpy brute force give exactly the units table's p_unit (over all configurations, and over
    those computing f as a fraction, the symmetrized counts being |orbit| times the plain ones),
    and the cluster second moments the tally keeps (``counts`` of the tally, checked directly)."""
    exp, res = exact_tables
    units = res["units"]
    for arch in exp.architectures:
        counts = None
        for t in exp.targets:
            plan = plan_target(t, exp.families, exp.n_inputs)
            llamas = [int(g) for g in plan.llamas]
            n_f, bf = brute_force_units(arch.widths, t.truth_table, llamas)
            configs = 3 ** sum(a * b + b for a, b in zip([3, *arch.widths], [*arch.widths, 1]))
            sub = units[(units.architecture == arch.name) & (units.target == t.name)]
            for l, width in enumerate(arch.widths):
                rows = sub[sub.layer == l + 1].set_index("llama")
                for j, g in enumerate(llamas):
                    r = rows.loc[f"0x{g:02x}"]
                    assert r.prior_p_unit == pytest.approx(bf[2, l, j] / (configs * width), rel=1e-12)
                    assert r.p_unit * n_f * width == pytest.approx(bf[0, l, j], rel=1e-9, abs=1e-9)
                    assert r.prior_predicted == pytest.approx(1 - (1 - r.prior_p_unit) ** width, rel=1e-9)
            assert bf[0].sum() > 0 and (bf[1] > bf[0]).any()  # units held, some networks with two: not vacuous
            if len(arch.widths) > 1:  # the second moments on the smaller network (a second enumeration)
                continue
            counts = counts or count_pass(exp, arch)[0]
            c = counts[t.name]
            np.testing.assert_array_equal(c.prior_units, bf[2])
            np.testing.assert_array_equal(c.prior_units_sq, bf[3])
            np.testing.assert_array_equal(c.units * n_f, bf[0] * c.n_f)  # symmetrized: |orbit| times
            np.testing.assert_array_equal(c.units_sq * n_f, bf[1] * c.n_f)


def test_exact_volume_is_the_orbit_count_over_its_size(exact_tables):
    exp, res = exact_tables
    v = res["volumes"]
    for arch in exp.architectures:
        for t in exp.targets:
            n_f, _ = brute_force(arch.widths, t.truth_table, [])
            row = v[(v.architecture == arch.name) & (v.target == t.name)].iloc[0]
            assert row.orbit_hits == n_f * row.orbit_size
            assert row.samples == 3 ** (sum(a * b + b for a, b in zip([3, *arch.widths], [*arch.widths, 1])))
            assert row.ci95_lo == row.ci95_hi == pytest.approx(np.log10(n_f / row.samples))


@pytest.mark.slow  # a sampled pass beside the exact one (about 11 s)
def test_sampled_shares_match_the_exact_ones(exact_tables):
    """Hit-or-miss sampling of the same ternary prior (2**18 networks per architecture): every
    share's exact interval, Bonferroni-corrected over all cells to a 1% family-wise level, holds
    the enumerated share. A correct sampler fails this with probability at most 1%."""
    exp, exact = exact_tables
    mc = run_experiment(parse_experiment(config("mc", samples=2**18)))["cost"]
    ex = exact["cost"].set_index(["architecture", "target", "llama", "layer"])
    mc = mc.set_index(["architecture", "target", "llama", "layer"])
    k, n = mc["n_f_and_g"].to_numpy(), mc["n_f"].to_numpy()
    assert len(np.unique(n)) <= 4 and n.min() > 1000
    conf = 1 - 0.01 / len(mc)
    inside = []
    for nn in np.unique(n):
        sel = n == nn
        lo, hi = clopper_pearson_many(k[sel], int(nn), conf)
        truth = ex.loc[mc.index[sel], "share"].to_numpy()
        inside.append((lo <= truth + 1e-12) & (truth <= hi + 1e-12))
    inside = np.concatenate(inside)
    assert inside.all(), mc.index[~inside].tolist()
    # the check has power: shares of a few percent are resolved, not just bounded
    resolved = mc[(mc["share_lo"] > 0.01) & (mc["share_hi"] < 0.99)]
    assert len(resolved) >= 10


def test_sampled_shares_reject_a_wrong_answer(exact_tables):
    """The same comparison against shares from the wrong architecture fails."""
    _, exact = exact_tables
    c = exact["cost"]
    a = c[(c.architecture == "w2") & (c.layer == "1")].set_index(["target", "llama"])["share"]
    b = c[(c.architecture == "w2-1") & (c.layer == "1")].set_index(["target", "llama"])["share"]
    assert not np.allclose(a.sort_index(), b.sort_index())


def test_orbit_transport_uses_one_automorphism_for_f_and_its_llamas():
    """For 3 bits, every (h, transported llamas) pair equals (f o s, g o s) for one of the 48
    automorphisms s, found here by brute force."""
    f, llamas = 0x88, [0xF0, 0x80, 0xE8, 0xC0]
    orb = orbit_transport(f, llamas, 3)
    x = cube(3) > 0
    compose = {}
    for perm in itertools.permutations(range(3)):
        for flips in itertools.product((False, True), repeat=3):
            y = x[:, perm] ^ np.array(flips)
            idx = y @ (1 << np.arange(3))
            apply = lambda t, idx=idx: sum(((t >> int(idx[i])) & 1) << i for i in range(8))  # noqa: E731
            compose.setdefault(apply(f), []).append(tuple(apply(g) for g in llamas))
    assert sorted(int(h) for h in orb.orbit) == sorted(compose)
    for h, row in zip(orb.orbit, orb.llamas):
        assert tuple(int(g) for g in row) in compose[int(h)]
    assert len(orbit_transport(0x88888888, [], 5).orbit) == 40
    assert len(orbit_transport(0xE8E8E8E8, [], 5).orbit) == 80


def test_union_counts_are_nested_and_bounded(exact_tables):
    """The share of 'holds any of the first K' grows with K, never exceeds the sum of the
    individual shares, and is at least the largest of them."""
    _, res = exact_tables
    s = res["share"]
    for _, grp in s.groupby(["architecture", "target", "family", "layer"]):
        grp = grp.sort_values("K")
        assert (np.diff(grp["n_f_and_any"]) >= 0).all()
        assert (grp["share"] <= grp["sum_of_shares"] + 1e-12).all()
        assert (grp["overlap"] >= -1e-12).all()


@pytest.mark.slow  # two experiment runs (about 6 s); the slow step runs it
def test_gaussian_rerun_is_identical_whatever_the_batch_size(tmp_path):
    exp = parse_experiment(config("mc", samples=20000, prior="gaussian", widths=((8, 8),), activation="relu",
                                  chunk=2048))
    a = run_experiment(exp, batch_size=64)
    b = run_experiment(exp, batch_size=256)
    for k in a:
        pd.testing.assert_frame_equal(a[k], b[k])
    assert a["volumes"]["orbit_hits"].min() > 0


NEVER_HIT = """
[experiment]
n_inputs = 3
samples = 4096
chunk_size = 1024
[estimator]
kind = "{estimator}"
[prior]
kind = "ternary"
[[architecture]]
widths = [1]
activation = "step"
[[target]]
name = "parity"
truth_table = "0x96"
[[target]]
name = "and01"
truth_table = "0x88"
[[family]]
name = "named"
kind = "named"
truth_tables = ["0xf0", "0xaa", "0x96"]
"""


@pytest.mark.parametrize("estimator", ["exact", pytest.param("mc", marks=pytest.mark.slow)])  # 2.5 s
def test_a_target_never_hit_gives_no_volume_and_nan_shares(tmp_path, estimator):
    """A 3-1-1 step network never computes parity (one threshold unit feeds the output): the tables,
    figures and manifest are still written, with no log10 volume, no lower end, the one-sided upper
    bound when sampled (none when enumerated: the volume is exactly 0) and NaN shares."""
    exp = parse_experiment(NEVER_HIT.format(estimator=estimator))
    out = tmp_path / "out" if estimator == "exact" else None  # the figures take NaN shares too
    res = run_experiment(exp, out=out, progress=False)
    v = res["volumes"].set_index("target")
    par, and01 = v.loc["parity"], v.loc["and01"]
    assert par.orbit_hits == 0 and par.volume == 0 and and01.orbit_hits > 0
    assert pd.isna(par.log10_volume) and pd.isna(par.ci95_lo)
    if estimator == "exact":
        assert par.samples == 3**6 and pd.isna(par.ci95_hi)
        assert and01.ci95_lo == and01.ci95_hi == pytest.approx(and01.log10_volume)
    else:
        one_sided = -math.expm1(math.log(0.05) / 4096)
        assert par.ci95_hi == pytest.approx(math.log10(one_sided / par.orbit_size))
    for name in ("cost", "share", "discard"):
        t = res[name]
        never = t[t.target == "parity"]
        assert (never.n_f == 0).all() and len(never) > 0
        shares = never.filter(regex="share|cost_bits").drop(columns=never.filter(regex="prior_|naive").columns)
        assert shares.isna().all().all(), name
        assert t[t.target == "and01"].filter(regex="^share$|_share$").notna().all().all()
    if out is not None:
        assert {"counts.npz", "manifest.json", "volumes.parquet", "cost.png"} <= {p.name for p in out.iterdir()}
        pd.testing.assert_frame_equal(pd.read_parquet(out / "volumes.parquet"), res["volumes"])
    text = summary(exp, res)
    assert "parity" in text and "and01" in text and text.splitlines()[0].split() == [
        "architecture", "target", "orbit_hits", "samples", "log10_volume", "ci95_lo", "ci95_hi"]


def test_samples_override_batch_size_check_and_work_folder(tmp_path):
    exp = parse_experiment(config("mc", samples=10).replace('activation = "step"\n', 'activation = "step"\n'
                                                               'samples = 99\n', 1))
    assert [a.samples for a in exp.architectures] == [99, None]
    small = with_samples(exp, 3000)
    assert small.samples == 3000 and [a.samples for a in small.architectures] == [None, None]
    with pytest.raises(SpecError, match="^samples: expected an integer >= 1, got 0$"):
        with_samples(exp, 0)
    check_batch_size(exp, 256)
    check_batch_size(exp, None)
    with pytest.raises(SpecError, match=r"^batch_size: expected a divisor of experiment.chunk_size=4096, got 3$"):
        check_batch_size(exp, 3)
    exact = parse_experiment(config("exact"))
    check_batch_size(exact, 27)
    with pytest.raises(SpecError, match=r"^batch_size: expected a divisor of the enumeration chunk of w2="):
        check_batch_size(exact, 128)
    # a work folder holding an unfinished pass is refused before anything runs
    (tmp_path / "w" / "w2-1").mkdir(parents=True)
    (tmp_path / "w" / "w2-1" / "checkpoint.npz").write_bytes(b"")
    with pytest.raises(SpecError, match="^work: expected a folder without an unfinished run"):
        run_experiment(small, out=tmp_path / "out", work=tmp_path / "w", progress=False)
    assert not (tmp_path / "out").exists() and not (tmp_path / "w" / "w2").exists()
    with pytest.raises(SpecError, match="^experiment.kind: expected one of"):
        parse_experiment('[experiment]\nkind = "serial"\n')
    with pytest.raises(SpecError, match="^experiment: expected a readable TOML file"):
        load_experiment(tmp_path / "missing.toml")


@pytest.mark.slow  # end to end through the CLI, killed twice (about 30 s)
def test_run_killed_and_resumed_gives_the_same_tables(tmp_path):
    cfg = tmp_path / "exp.toml"
    cfg.write_text(config("mc", samples=12000, prior="gaussian", widths=((8, 8),), activation="relu", chunk=1024))
    r = cli("--devices", 2, "run", cfg, "--out", tmp_path / "a", "--work", tmp_path / "wa", "--no-progress")
    assert r.returncode == 0, r.stderr
    r = cli("--devices", 1, "run", cfg, "--out", tmp_path / "b", "--work", tmp_path / "wb", "--no-progress",
            "--checkpoint-seconds", 0, env_extra={"COUNTING_KILL_AFTER_CHUNKS": "4"})
    assert r.returncode == -signal.SIGKILL  # no results: at most the lock the killed run could not remove
    assert not (tmp_path / "b").exists() or [p.name for p in (tmp_path / "b").iterdir()] == [".lock"]
    r = cli("--devices", 1, "run", cfg, "--out", tmp_path / "b", "--work", tmp_path / "wb", "--no-progress")
    assert r.returncode == 2 and "--work: expected" in r.stderr  # an unfinished run is not overwritten
    r = cli("--devices", 1, "run", cfg, "--out", tmp_path / "b", "--work", tmp_path / "wb", "--no-progress",
            "--resume", "--batch-size", 256)
    assert r.returncode == 0, r.stderr
    for k in ("volumes", "cost", "share", "discard", "units"):
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "a" / f"{k}.parquet"),
                                      pd.read_parquet(tmp_path / "b" / f"{k}.parquet"))
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(
        ["counts.npz", "cost.parquet", "share.parquet", "discard.parquet", "volumes.parquet", "units.parquet",
         "manifest.json", "cost.png", "share.png", "discard.png"])
    assert not list((tmp_path / "wb").rglob("checkpoint.npz"))


BAD = [
    (lambda s: s.replace("[[architecture]]", "[[architectur]]", 1), "experiment file.architectur"),
    (lambda s: s.replace('kind = "ignored_bits"', 'kind = "lamas"'), "family[0].kind"),
    (lambda s: s.replace('truth_table = "0x88"', 'truth_table = "0x1ff"'), "target[0].truth_table"),
    (lambda s: s.replace('truth_table = "0x88"', 'truth_table = "0x00"'), "target[0].truth_table"),
    (lambda s: s.replace("widths = [2]", "widths = []"), "architecture[0].widths"),
    (lambda s: s.replace('kind = "exact"', 'kind = "nngp"'), "estimator.kind"),
    (lambda s: s.replace('kind = "exact"', 'kind = "exact"\nsamples = 10'), "estimator.samples"),
    (lambda s: s.replace('[estimator]\nkind = "exact"', 'estimator = "exact"'), "experiment.estimator"),
    (lambda s: s.replace('kind = "ternary"', 'kind = "gaussian"'), "estimator.kind"),
    (lambda s: s.replace("samples = 1\n", "samples = 0\n"), "experiment.samples"),
    (lambda s: s.replace("[experiment]\n", '[experiment]\nkind = "serial"\n'), "experiment.kind"),
    (lambda s: s.replace('name = "w2"', 'name = "w2-1"'), "architecture.name"),
    (lambda s: s.replace('name = "w2"', 'name = "../w2"'), "architecture[0].name"),
    (lambda s: s + "[[target]]\nname = 'x0'\ntruth_table = '0x0f'\n", "target.name"),
    (lambda s: s.replace("[prior]", "[priors]"), "experiment file.priors"),
    (lambda s: s.replace("[prior]", "[prior.sub]"), "prior.sub"),
    (lambda s: "prior = 3\n" + s, "toml"),  # [prior] redefines it
    (lambda s: s.replace("n_inputs = 3", "n_inputs = 6"), "experiment.n_inputs"),
    (lambda s: s.replace('kind = "ignored_bits"', 'kind = "random_weight"\nweight = 0'), "family[0]"),
    (lambda s: s.replace("[[family]]", "[[famil]]"), "experiment file.famil"),
]


@pytest.mark.parametrize("edit, field", BAD)
def test_bad_experiment_files_give_one_line_errors(tmp_path, edit, field):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(edit(config("exact")))
    with pytest.raises(SpecError) as err:
        load_experiment(cfg)
    msg = str(err.value)
    assert len(msg.splitlines()) == 1 and msg.startswith(f"{field}: expected"), msg


def test_bad_experiment_file_on_the_command_line(tmp_path):
    """The command line prints the one-line error, exits with 2 and writes nothing."""
    edit, field = BAD[1]
    cfg = tmp_path / "bad.toml"
    cfg.write_text(edit(config("exact")))
    r = cli("run", cfg, "--out", tmp_path / "out", "--work", tmp_path / "w", "--no-progress")
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"counting: error: {field}: expected"), r.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow  # end to end through the CLI, stopped by SIGTERM in a pass, then resumed (about 30 s)
def test_run_stopped_by_sigterm_resumes_to_the_same_tables(tmp_path):
    cfg = tmp_path / "exp.toml"
    cfg.write_text(config("mc", samples=12000, prior="gaussian", widths=((8, 8),), activation="relu", chunk=1024))
    r = cli("--devices", 1, "run", cfg, "--out", tmp_path / "a", "--work", tmp_path / "wa", "--no-progress")
    assert r.returncode == 0, r.stderr
    r = cli("--devices", 1, "run", cfg, "--out", tmp_path / "b", "--work", tmp_path / "wb", "--no-progress",
            "--checkpoint-seconds", 1000, env_extra={"COUNTING_SIGNAL_AT": "TERM@chunk:5"})
    assert r.returncode == 143, r.stderr
    line = r.stderr.strip()
    assert "\n" not in line and "checkpointed in" in line and line.endswith("--resume"), line
    assert not (tmp_path / "b").exists()  # no result yet, and no empty folder
    assert [p.name for p in (tmp_path / "wb").rglob("*") if p.is_file()] == ["checkpoint.npz"]
    r = cli("--devices", 1, "run", cfg, "--out", tmp_path / "b", "--work", tmp_path / "wb", "--no-progress",
            "--resume")
    assert r.returncode == 0, r.stderr
    for k in ("volumes", "cost", "share", "discard", "units"):
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "a" / f"{k}.parquet"),
                                      pd.read_parquet(tmp_path / "b" / f"{k}.parquet"))
