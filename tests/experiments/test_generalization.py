"""The generalization experiment kind: config errors, the function count's exact rows, the tables'
intervals, the rejection rows against a direct count of the same census, the identity table, and
the command line (rerun, batch size, interrupted and resumed: identical tables)."""

from __future__ import annotations

import math
import signal

import numpy as np
import pandas as pd
import pytest

from conftest import cli, write_spec
from counting.boolean.tables import treacherous
from counting.experiments import parse_experiment
from counting.experiments.base.run import run_passes
from counting.experiments.generalization import combine, passes, tables as tb
from counting.experiments.generalization.config import DEMO, REJECTION_SAMPLES, m_values, s_draws, target_table
from counting.experiments.generalization.plan import posterior_seed, rejection_seed
from counting.spec.errors import SpecError

CONFIG = """
[experiment]
kind = "generalization"
n_inputs = [3]
fractions = [0.5]
draws = 2
samples = 32
chunk_size = 16
[[architecture]]
widths = [4]
[[target]]
name = "majority"
function = "majority"
[posterior]
particles = 16
steps = 1
slice_shrinks = 2
replicates = 3
n_qmc = 32
[[optimizer]]
name = "adam"
learning_rate = 0.05
max_steps = 100
[rejection]
samples = 4096
chunk_size = 1024
"""

BAD = [
    (lambda s: s.replace('function = "majority"', 'function = "xor"'), "target[0].function"),
    (lambda s: s.replace("fractions = [0.5]", "fractions = [1.5]"), "experiment.fractions"),
    (lambda s: s.replace("n_inputs = [3]", "n_inputs = [9]"), "experiment.n_inputs"),
    (lambda s: s + '\n[prior]\nkind = "ternary"\n', "prior.kind"),
    (lambda s: s.replace("[posterior]", "[posterior]\nseed = 3"), "posterior.seed"),
    (lambda s: s.replace('name = "adam"', 'name = "adam"\nm = 3'), "optimizer[0].m"),
    (lambda s: s.replace("samples = 4096", "samples = -1"), "rejection.samples"),
    (lambda s: s.replace("samples = 4096", "samples = 1.5"), "rejection.samples"),
    (lambda s: s.replace("samples = 4096", "samples = true"), "rejection.samples"),
    (lambda s: s.replace("samples = 4096", "sample = 4096"), "rejection.sample"),
    (lambda s: s.replace("chunk_size = 1024", "chunk_size = 0"), "rejection.chunk_size"),
    (lambda s: "rejection = 5\n" + s.replace("[rejection]\nsamples = 4096\nchunk_size = 1024", ""), "rejection"),
]


@pytest.mark.parametrize("edit,field", BAD)
def test_bad_configs_get_one_line_errors(edit, field):
    with pytest.raises(SpecError) as e:
        parse_experiment(edit(CONFIG))
    assert str(e.value).startswith(field) and "\n" not in str(e.value)


def test_grid_and_targets():
    """m from the fractions (one S at m = 0 and m = N); targets by function, drawn ones fixed by seed."""
    exp = parse_experiment(DEMO)
    assert m_values(exp, 3) == (0, 4, 8) and s_draws(exp, 3, 0) == (0,) and s_draws(exp, 3, 4) == (0, 1)
    full = parse_experiment(open("experiments/generalization.toml").read())
    tables = {t.name: target_table(t, 5) for t in full.targets}
    assert tables["dictator"] == 0xAAAAAAAA and tables["parity"] == 0x96696996
    assert tables["threshold"] == target_table(full.targets[3], 5)  # the same seed, the same function
    assert 0 < bin(tables["random"]).count("1") < 32


def test_function_count_rows_are_exact():
    """P(f* | S) = 2^-(N - m), accuracy 1/2 (1 at m = N), the error a Binomial(N - m, 1/2) over N - m."""
    post = pd.DataFrame([{c: 0 for c in tb.SETTING} | {"m": m, "N": 8} for m in (2, 8)])
    comp, errs = tb.function_count_rows(post)
    assert comp["log10_p_target"].tolist() == pytest.approx([-6 * math.log10(2), 0.0])
    assert comp["accuracy"].tolist() == [0.5, 1.0]
    e = errs[errs["m"] == 2]
    assert e["share"].sum() == pytest.approx(1.0) and e["share"].iloc[3] == pytest.approx(20 / 64)


def test_order_interval_holds_its_estimate():
    rng = np.random.default_rng(0)
    for k in (1, 5, 40, 300):
        v = rng.integers(0, 5, k) / 4
        for q in tb.QUANTILES:
            est, lo, hi = tb.order_interval(v, q)
            assert lo <= est <= hi and est == np.sort(v)[max(math.ceil(q * k) - 1, 0)]


def test_rejection_census_is_one_per_network_on_its_own_seed():
    """One census per cube size and network, first; default 2^20 networks; 0 turns it off."""
    exp = parse_experiment(CONFIG.replace("n_inputs = [3]", "n_inputs = [3, 4]"))
    names = [p.name for p in passes(exp)]
    assert [n for n in names if n.startswith("rejection")] == ["rejection:n3:a0", "rejection:n4:a0"]
    assert names[0] == "rejection:n3:a0" and names.index("rejection:n4:a0") == len(names) // 2
    r = passes(exp)[0]
    assert r.spec.estimator.samples == 4096 and r.spec.estimator.chunk_size == 1024
    seeds = {posterior_seed(exp.seed, 3, "a0", "majority", 4, d) for d in range(2)} | {exp.seed}
    assert r.spec.estimator.seed == rejection_seed(exp.seed, 3, "a0") and r.spec.estimator.seed not in seeds
    default = parse_experiment(CONFIG.replace("[rejection]\nsamples = 4096\nchunk_size = 1024", ""))
    assert default.rejection.samples == REJECTION_SAMPLES == 2**20
    off = parse_experiment(CONFIG.replace("samples = 4096", "samples = 0"))
    assert not any(p.name.startswith("rejection") for p in passes(off))


def direct_rejection(frame: pd.DataFrame, tt: int, points, n: int) -> dict:
    """Hit-or-miss by hand from a census's functions (hex) and counts, bit by bit in Python."""
    off_points = [x for x in range(2**n) if x not in points]
    f_t = treacherous(tt, points, n)
    kept = hits = hits_t = 0
    err_sum, per_function = 0.0, {}
    for h, c in zip(frame["truth_table"], frame["count"]):
        f = int(h, 16)
        if all((f >> x) & 1 == (tt >> x) & 1 for x in points):
            kept += int(c)
            hits += int(c) * (f == tt)
            hits_t += int(c) * (f == f_t)
            err_sum += int(c) * sum((f >> x) & 1 != (tt >> x) & 1 for x in off_points) / max(len(off_points), 1)
            per_function[h] = int(c)
    return {"kept": kept, "hits_target": hits, "hits_treacherous": hits_t,
            "error": err_sum / kept if kept else math.nan, "distinct_functions": len(per_function),
            "top1": max(per_function.values()) if per_function else 0}


def interval_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if f"{c}_lo" in df.columns and f"{c}_hi" in df.columns]


def test_rejection_rows_equal_a_direct_count_of_the_census():
    """The rejection rows of a 3-4-1 census of 4096 networks, m = 4 (two draws of S) and m = 0, 8:
    kept draws, hits of f* and f_T, the mean error off S, the functions kept, all as a direct count
    of the census's functions; every interval holds its estimate."""
    exp = parse_experiment(CONFIG.replace("fractions = [0.5]", "fractions = [0, 0.5, 1]")
                           .replace('name = "majority"\nfunction = "majority"',
                                    'name = "majority"\nfunction = "majority"\n[[target]]\nname = "and"\nfunction = "and"'))
    p = passes(exp)[0]
    assert p.name == "rejection:n3:a0"
    [(_, census, facts)] = list(run_passes([p], progress=False))
    assert census.samples == 4096 == int(census.counts.sum())
    rej = p.tables(census, facts)["rejection"]
    frame = census.frame()
    assert len(rej) == 2 * (1 + 2 + 1)  # two targets; m = 0, 4 (two draws), 8
    for _, r in rej.iterrows():
        tt = int(r["target_table"], 16)
        points = [int(x) for x in r["S"].split()]
        d = direct_rejection(frame, tt, points, 3)
        for k in ("kept", "hits_target", "hits_treacherous", "distinct_functions"):
            assert r[k] == d[k], (k, r["target"], r["m"], r["draw"])
        assert r["error"] == pytest.approx(d["error"], abs=1e-12)
        assert r["share_target"] == pytest.approx(d["hits_target"] / d["kept"], abs=1e-15)
        assert r["top1_share"] == pytest.approx(d["top1"] / d["kept"], abs=1e-15)
        assert r["samples"] == 4096
    assert (rej[rej["m"] == 0]["kept"] == 4096).all()
    full = rej[rej["m"] == 8]
    assert (full["kept"] == full["hits_target"]).all() and (full["error"] == 0).all()
    assert (rej["kept"] > 0).all() and (rej["hits_target"] > 0).sum() >= 6  # rows with something to compare
    for c in interval_columns(rej):
        lo, est, hi = rej[f"{c}_lo"], rej[c], rej[f"{c}_hi"]
        assert ((lo <= est) & (est <= hi)).all(), c


def fake_about(tt: int, points, n: int = 3) -> dict:
    return {"n_inputs": n, "architecture": "a0", "network": "net", "prior": "p", "target": "t", "function": "and",
            "target_table": tt, "m": len(points), "draw": 0, "S": tuple(points), "method": "rejection"}


def test_rejection_with_no_draw_kept_is_nan_and_few_draws_get_wide_intervals():
    """kept = 0: every share, probability and error NaN (no interval); kept = 1: the mean error and
    P(f* | S) with Clopper-Pearson's intervals for one draw, not a point; draws that all agree do
    not give a zero-wide interval either."""
    about = fake_about(0x80, [0, 7])  # AND on 3 bits: 0 at point 0, 1 at point 7
    tables = np.array([[0x00], [0xFF], [0x01]], np.uint32)  # none is 0 at point 0 and 1 at point 7
    r = tb.rejection_row(about, tables, np.array([5, 3, 2]), 10)
    assert r["kept"] == 0 and r["hits_target"] == 0
    for c in ("share_target", "log10_p_target", "log10_p_treacherous", "error", "error_q50", "top1_share"):
        assert math.isnan(r[c]) and math.isnan(r[f"{c}_lo"]) and math.isnan(r[f"{c}_hi"]), c
    assert r["log10_v_set"] == -math.inf and r["log10_v_set_hi"] < 0
    one = tb.rejection_row(about, np.vstack([tables, [[0x80]]]).astype(np.uint32), np.array([5, 3, 2, 1]), 11)
    assert one["kept"] == 1 and one["hits_target"] == 1 and one["error"] == 0.0
    assert one["error_lo"] == 0.0 and one["error_hi"] == pytest.approx(0.95)
    assert one["share_target"] == 1.0 and one["share_target_lo"] == pytest.approx(0.025)
    assert one["log10_p_treacherous"] == -math.inf and one["log10_p_treacherous_hi"] == pytest.approx(math.log10(0.95))
    alike = tb.rejection_row(about, np.array([[0x80], [0x82]], np.uint32), np.array([0, 40]), 40)  # 40 draws, 1 error of 6
    assert alike["kept"] == 40 and alike["error"] == pytest.approx(1 / 6)
    assert alike["error_lo"] < 1 / 6 - 0.05 and alike["error_hi"] > 1 / 6 + 0.05
    whole = tb.rejection_row(fake_about(0x80, range(8)), np.array([[0x80]], np.uint32), np.array([7]), 7)
    assert (whole["error"], whole["error_lo"], whole["error_hi"]) == (0.0, 0.0, 0.0)  # m = N: no point off S


def test_rejection_intervals_hold_their_estimates_on_random_censuses():
    """Every interval of every rejection row holds its estimate (few kept draws and many)."""
    rng = np.random.default_rng(1)
    for _ in range(20):
        k = int(rng.integers(1, 40))
        tables = np.unique(rng.integers(0, 256, k)).astype(np.uint32)[:, None]
        counts = rng.integers(1, 50, len(tables))
        points = sorted(rng.choice(8, int(rng.integers(0, 9)), replace=False).tolist())
        r = tb.rejection_row(fake_about(int(rng.integers(0, 256)), points), tables, counts, int(counts.sum()) + 7)
        for c in [c for c in r if f"{c}_lo" in r and f"{c}_hi" in r]:
            if not math.isnan(r[f"{c}_lo"]):
                assert r[f"{c}_lo"] <= r[c] <= r[f"{c}_hi"], (c, r)


def test_identity_says_which_well_sampled_intervals_overlap():
    """The parameter count's intervals against rejection's: overlap or not, the difference, and only
    settings with enough kept draws and hits (and m < N) counted."""
    base = {c: 0 for c in tb.SETTING} | {"n_inputs": 3, "architecture": "a0", "target": "t", "N": 8, "m": 4}
    rej = pd.DataFrame([base | {"draw": d, "kept": kept, "hits_target": hits, "hits_treacherous": hits,
                                "log10_p_target": -1.0, "log10_p_target_lo": -1.1, "log10_p_target_hi": -0.9,
                                "log10_p_treacherous": -2.0, "log10_p_treacherous_lo": -2.2,
                                "log10_p_treacherous_hi": -1.8, "share_target": 0.1, "share_target_lo": 0.08,
                                "share_target_hi": 0.12, "error": 0.3, "error_lo": 0.25, "error_hi": 0.35}
                        for d, kept, hits in ((0, 1000, 100), (1, 1000, 100), (2, 50, 5))])
    post = rej.drop(columns=["kept", "hits_target", "hits_treacherous"]).assign(
        method="parameters", reliable_target=True, reliable_treacherous=False)
    post.loc[1, ["log10_p_target", "log10_p_target_lo", "log10_p_target_hi"]] = [-0.5, -0.6, -0.4]  # misses
    ident = tb.identity({"posterior": post, "rejection": rej.assign(method="rejection")})
    p = ident[ident["quantity"] == "P(f*|S)"].set_index("draw")
    assert p["overlap"].tolist() == [True, False, True] and p["well_sampled"].tolist() == [True, True, False]
    assert p.loc[1, "difference"] == pytest.approx(0.5) and p.loc[0, "difference"] == 0
    assert bool(p.loc[0, "parameters_reliable"])
    counts = tb.identity_counts(ident)
    assert counts.loc["P(f*|S)"].tolist() == [2, 1] and counts.loc["P(f_T|S)"].tolist() == [2, 2]
    assert counts.loc["accuracy off S"].tolist() == [2, 2]


def tables_of(folder) -> dict[str, pd.DataFrame]:
    return {k: pd.read_parquet(folder / f"{k}.parquet").drop(columns=["seconds"], errors="ignore")
            for k in ("posterior", "training", "errors", "top_functions", "comparison", "rejection", "identity")}


@pytest.mark.slow  # end to end through the command line, four runs (490 to 510 s on two busy cores)
def test_run_is_identical_at_two_batch_sizes_and_when_resumed(tmp_path):
    """The same tables (every column but the seconds) from a plain run, a run at another batch size,
    and a run interrupted at its first checkpoint and resumed."""
    cfg = write_spec(tmp_path, CONFIG, "generalization.toml")
    r = cli("run", cfg, "--out", tmp_path / "a", "--work", tmp_path / "wa", "--no-progress", timeout=900)
    assert r.returncode == 0, r.stderr
    r = cli("run", cfg, "--out", tmp_path / "b", "--work", tmp_path / "wb", "--no-progress", "--batch-size", 4,
            timeout=900)
    assert r.returncode == 0, r.stderr
    r = cli("run", cfg, "--out", tmp_path / "c", "--work", tmp_path / "wc", "--no-progress",
            env_extra={"COUNTING_SIGNAL_AT": "INT@save:1"}, timeout=900)
    assert r.returncode == 128 + signal.SIGINT, r.stderr
    r = cli("run", cfg, "--out", tmp_path / "c", "--work", tmp_path / "wc", "--no-progress", "--resume", timeout=900)
    assert r.returncode == 0, r.stderr
    a = tables_of(tmp_path / "a")
    for other in ("b", "c"):
        for k, df in tables_of(tmp_path / other).items():
            pd.testing.assert_frame_equal(a[k], df)
    comp = a["comparison"]
    assert set(comp["method"]) == {"functions", "parameters", "training (adam)", "rejection"}
    assert len(a["rejection"]) == 2 and (a["rejection"]["kept"] > 50).all()  # 76 and 156 of 4096
    assert set(a["identity"]["quantity"]) == {q[0] for q in tb.QUANTITIES}
    assert {"accuracy_n3.png", "probability_n3.png"} <= {p.name for p in (tmp_path / "a").iterdir()}
    post = a["posterior"]
    for c in ("error", "error_q50", "share_target", "top1_share"):
        assert (post[f"{c}_lo"] <= post[c]).all() and (post[c] <= post[f"{c}_hi"]).all()
