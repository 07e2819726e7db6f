"""Site predicates on hand-built networks whose hidden units are known, and their use by every
estimator (hit-or-miss, restricted census, exact enumeration, rare-event)."""

import jax.numpy as jnp
import numpy as np
import pytest

from counting.boolean.cube import cube
from counting.jobs import census_job, volume_job
from counting.models import forward
from counting.mechanisms.predicates import all_of, any_of, computes, negate
from counting.mechanisms.sites import decodes_everything, holds, holds_any, unit_tables
from counting.estimators import Problem, estimate
from counting.spec import MLPSpec, SubsetSettings, parse_spec
from counting.stats import clopper_pearson
from scipy import stats
from counting.boolean.tables import from_function, words_to_int

N = 2
AND, OR, XOR, X0, X1 = 0x8, 0xE, 0x6, 0xA, 0xC
M = MLPSpec(n_inputs=2, widths=(2,), activation="relu")


def net(units):
    """A 2-2-1 relu network whose hidden units have the given (w0, w1, b); the readout is a
    fixed sum minus 0.5, so the output is known too."""
    w = np.array([[u[0] for u in units], [u[1] for u in units]], np.float32)  # [in, out]
    b = np.array([u[2] for u in units], np.float32)
    p = {"layer1.w": w[None], "layer1.b": b[None], "output.w": np.ones((1, 2, 1), np.float32),
         "output.b": np.array([[-0.5]], np.float32)}
    return forward(M, p, jnp.asarray(cube(N)))


# x_j = +-1: x0 + x1 - 1 > 0 only at (+,+): AND. x0 + x1 + 1 > 0 except at (-,-): OR.
AND_UNIT, OR_UNIT, X0_UNIT, NOT_X1_UNIT = (1, 1, -1), (1, 1, 1), (1, 0, 0), (0, -1, 0)


def test_unit_tables_are_the_sign_patterns():
    fwd = net([AND_UNIT, OR_UNIT])
    assert [words_to_int(t) for t in np.asarray(unit_tables(fwd, "layer1"))[0]] == [AND, OR]


@pytest.mark.parametrize("units, g, expected", [
    ([AND_UNIT, OR_UNIT], AND, True),
    ([AND_UNIT, OR_UNIT], OR, True),
    ([AND_UNIT, OR_UNIT], 0xF ^ AND, True),   # NAND: the negation of a held pattern counts
    ([AND_UNIT, OR_UNIT], XOR, False),
    ([AND_UNIT, OR_UNIT], X0, False),
    ([X0_UNIT, OR_UNIT], AND, False),         # no unit computes AND
    ([X0_UNIT, NOT_X1_UNIT], X1, True),       # held as "not x1"
    ([X0_UNIT, NOT_X1_UNIT], X0, True),
])
def test_holds_on_hand_built_networks(units, g, expected):
    fwd = net(units)
    c = holds("layer1", g, N)
    assert bool(c(fwd)[0]) is expected
    assert bool(negate(c)(fwd)[0]) is (not expected)
    # the score is 0 exactly where the condition holds, negative elsewhere; likewise its negation's
    assert (float(c.score(fwd)[0]) == 0.0) is expected
    assert (float(negate(c).score(fwd)[0]) == 0.0) is (not expected)


def test_holds_any_and_composition():
    fwd = net([AND_UNIT, OR_UNIT])
    assert bool(holds_any("layer1", [XOR, X0, OR], N)(fwd)[0])
    assert not bool(holds_any("layer1", [XOR, X0, X1], N)(fwd)[0])
    out_tt = from_function(lambda x: (x[0] + x[1] + 1 > 0) or (x[0] + x[1] - 1 > 0), N)  # relu sum - 0.5
    assert bool(computes(out_tt, N)(fwd)[0])
    both = all_of(computes(out_tt, N), holds("layer1", AND, N))
    assert bool(both(fwd)[0]) and float(both.score(fwd)[0]) == 0.0
    none = all_of(computes(out_tt, N), holds("layer1", XOR, N))
    assert not bool(none(fwd)[0]) and float(none.score(fwd)[0]) < 0.0
    either = any_of(holds("layer1", XOR, N), holds("layer1", AND, N))
    assert bool(either(fwd)[0]) and float(either.score(fwd)[0]) == 0.0
    assert not bool(negate(either)(fwd)[0]) and float(negate(either).score(fwd)[0]) < 0.0


def test_unknown_site_is_a_one_line_error():
    with pytest.raises(ValueError, match="site: expected one of"):
        holds("layer7", AND, N)(net([AND_UNIT, OR_UNIT]))


def test_scores_approach_zero_as_a_unit_approaches_the_pattern():
    """Lowering the bias of a unit moves its pattern from const1 to AND: the score rises monotonically to 0."""
    c = holds("layer1", AND, N)
    scores = [float(c.score(net([(1, 1, b), (0, 0, 10)]))[0]) for b in (2.5, 1.5, 0.5, -0.5)]
    assert scores[0] < scores[1] < scores[2] < 0 and scores[3] == 0


SMALL = """
[model]
n_inputs = 3
widths = [6]
activation = "relu"
[target]
name = "majority"
[estimator]
samples = 200000
chunk_size = 8192
"""


@pytest.mark.slow  # two passes over 2^17 networks (about 10 s); the slow step runs it
def test_restricted_census_matches_hit_or_miss_on_the_same_networks():
    """Both count the same networks (same seed), so the restricted census's count of f is exactly
    the hit-or-miss count of "computes f and layer 1 holds x2"."""
    spec = parse_spec(SMALL)
    where = holds("layer1", 0xF0, 3)  # x2
    census, _ = census_job(spec, where=where)
    assert census.samples == 200000 and census.kept < census.samples
    for tt in (0xE8, 0x80, 0xF0):
        est = volume_job(spec, all_of(computes(tt, 3), where))
        words = np.array([tt], np.uint32)
        assert census.count_of(words) == est.hits
    frame = census.frame()
    assert np.isclose(frame["volume"].sum(), census.kept / census.samples)


def test_exact_enumeration_counts_site_conditions_like_a_brute_force():
    """3-2-1 step network, ternary weights (3**11 configurations): "computes AND(x0,x1) and layer 1
    holds x2" counted by the engine equals a numpy brute force over every configuration."""
    spec = parse_spec("""
[model]
n_inputs = 3
widths = [2]
activation = "step"
[prior]
kind = "ternary"
[target]
truth_table = "0x88"
[estimator]
kind = "exact"
""")
    cond = all_of(computes(0x88, 3), holds("layer1", 0xF0, 3))
    est = volume_job(spec, cond)
    both, f_only = _brute_force_3_2_1(0x88, 0xF0)
    assert est.hits == both
    assert volume_job(spec).hits == f_only


def _brute_force_3_2_1(f: int, g: int) -> tuple[int, int]:
    """Counts over all 3**11 ternary 3-2-1 step networks, enumerated with itertools-free numpy."""
    x = cube(3)  # [8, 3]
    grid = np.stack(np.meshgrid(*[np.array([-1, 0, 1], np.float32)] * 11, indexing="ij"), -1).reshape(-1, 11)
    w1, b1 = grid[:, :6].reshape(-1, 3, 2), grid[:, 6:8]
    w2, b2 = grid[:, 8:10], grid[:, 10]
    z = np.einsum("pi,nij->njp", x, w1) + b1[:, :, None]  # [N, 2, 8]
    h = (z > 0).astype(np.float32)
    out = np.einsum("njp,nj->np", h, w2) + b2[:, None]
    bits = 1 << np.arange(8)
    out_tt = ((out > 0) * bits).sum(-1)
    unit_tt = ((z > 0) * bits).sum(-1)  # [N, 2]
    held = np.any((unit_tt == g) | (unit_tt == (0xFF ^ g)), axis=1)
    is_f = out_tt == f
    return int(np.sum(is_f & held)), int(np.sum(is_f))


@pytest.mark.slow  # SMC replicates on a site condition (about 27 s on busy cores)
def test_rare_event_estimator_climbs_a_site_condition():
    """Subset simulation on "computes majority and layer 1 holds x0 AND x1 AND x2" agrees with
    hit-or-miss (2e5 networks) within their 99.9% intervals (false failure well under 1e-2)."""
    spec = parse_spec(SMALL)
    cond = all_of(computes(0xE8, 3), holds("layer1", 0x80, 3))
    mc = volume_job(spec, cond)
    assert mc.hits > 30
    r = estimate(Problem.of(spec, cond), SubsetSettings(seed=3, particles=400, replicates=6, steps=8))
    lo, hi = clopper_pearson(mc.hits, mc.samples, 0.999)
    # widen the subset interval to 99.9% from its replicates (Student t, 5 degrees of freedom)
    reps = 10 ** np.array(r.diagnostics["replicates_log10"])
    half = stats.t.ppf(0.9995, len(reps) - 1) * reps.std(ddof=1) / np.sqrt(len(reps))
    assert reps.mean() - half <= hi and reps.mean() + half >= lo, (r, mc)


def test_decodes_everything_on_hand_built_layers():
    """Four relu units, each on at exactly one point of the 2-bit cube (x . x_i - 1 > 0 only at
    x_i), give the identity matrix: every function is a readout. Four copies of one unit do not."""
    m4 = MLPSpec(n_inputs=2, widths=(4,), activation="relu")
    pts = cube(2)

    def fwd_of(units):
        w = np.array(units, np.float32)[:, :2].T[None]
        b = np.array(units, np.float32)[:, 2][None]
        p = {"layer1.w": w, "layer1.b": b, "output.w": np.ones((1, 4, 1), np.float32),
             "output.b": np.zeros((1, 1), np.float32)}
        return forward(m4, p, jnp.asarray(pts))

    pred = decodes_everything("layer1", "relu")
    assert bool(pred(fwd_of([(p[0], p[1], -1.0) for p in pts]))[0])
    assert not bool(pred(fwd_of([(1.0, 1.0, -1.0)] * 4))[0])
