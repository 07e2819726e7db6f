"""Volumes with the readout integrated out: conditional Monte Carlo over the hidden layers.

Given a network's hidden layers, its output on the cube is a linear readout ``y = F w + b`` of its
features ``F`` (``[points, W]``: the last hidden layer's activations, or a residual network's
final stream; :attr:`counting.models.layers.Architecture.readout_features`). Under the Gaussian
prior (``w ~ N(0, sigma_w^2 / W)``, ``b ~ N(0, sigma_b^2)``) the outputs are ``N(0, K)`` with
``K = sigma_w^2 F F^T / W + sigma_b^2``, so the probability that the readout computes ``f`` is an
orthant probability, ``P(f | hidden) = P(s_i y_i > 0 for every point i)`` with ``s_i = +-1`` the
target's values. The volume is its mean over the hidden layers,

    ``V(f) = E_hidden[P(f | hidden)]``,

estimated by the mean over ``samples`` prior draws of the hidden layers: every network contributes,
not only the rare ones whose readout hits, so it reaches far deeper than hit-or-miss at the same
cost in networks (each costs one orthant probability instead of one readout).

**Networks and keys.** The pass is the engine's (:func:`counting.engine.run.run_pass`: chunked,
sharded, checkpointed, resumable) over :class:`counting.engine.readouts.HiddenDraws`: network ``i``
of chunk ``c`` has the hidden layers of shared draws' hidden draw ``i`` (the same seed and chunk
size give the same hidden layers as ``mc`` with ``readouts_per_draw > 1``, so the two can be
compared network by network) and its own key for the QMC shifts. Each network's ``P(f | hidden)``
is computed on the device by :func:`counting.analytic.orthant_batched.log_orthant_keys`
(randomised lattice QMC with ``shifts`` random shifts of ``n_qmc`` points, Botev's tilt for a
full-rank ``K``): an unbiased estimate of it, so the mean over networks stays unbiased and its
sample variance includes the QMC noise. The host keeps, per chunk, ``log sum p`` and
``log sum p^2`` (float64, from the chunk's float32 values in network order) and the largest terms;
they are combined in chunk order at the end. Networks are evaluated ``block_size`` at a time
whatever the run's batch size (float32 rounding, and the tilt's Newton solve with it, differ
between array shapes), so the result is the same bit for bit for any device count, process count
or interruption; ``--batch-size`` does not apply. On a CPU backend the pass runs on one CPU device
(:func:`one_cpu_device`).

**Interval and trust** (:mod:`counting.tails`). The 95% interval is the normal one from the sample
variance of the ``p_i``. The ``p_i`` span decades and their mean can be carried by a few networks,
where that interval is too narrow; the diagnostics say when: the Pareto ``khat`` of the largest
terms (reliable below ``min(1 - 1/log10(n), 0.7)``, Vehtari et al. 2024), the largest network's
share of the sum ``max_share``, and the effective sample size ``ess``. An estimate whose k-hat is
above the threshold is marked ``reliable: false`` with a one-line ``warning`` (in ``--json``, the
table columns and the citation). A target no network reaches (every ``p_i`` exactly 0: an
infeasible sign pattern of every sampled ``K``) is reported as the one-sided bound of hit-or-miss
over the hidden draws.

**Mechanisms and subsets** (:class:`ReadoutTarget`, through :func:`estimate_many`): "computes f and
the hidden layers satisfy a condition" (e.g. "layer l holds g") is ``E[1{condition} P(f | hidden)]``,
and "agrees with f on the points S" is an orthant over S alone (the posterior's evidence
``V(agrees on S)`` without rejection). Only the Gaussian prior has a Gaussian readout (other priors
are a one-line error), the registry's ``estimate`` takes a condition "computes the target" only, and
the cube has at most 7 bits (the lattice's 251 dimensions).

Example:
    >>> from counting.spec import parse_spec
    >>> spec = parse_spec('''
    ... [model]
    ... n_inputs = 2
    ... widths = []
    ... [target]
    ... name = "and"
    ... [estimator]
    ... kind = "readout"
    ... samples = 8
    ... chunk_size = 8
    ... ''')
    >>> est = estimate(Problem.of(spec), spec.estimator)      # a perceptron: one orthant, 1/24
    >>> est.estimator, est.samples, round(est.volume * 24, 3), est.diagnostics["reliable"]
    ('readout', 8, 1.0, False)
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float
from scipy.special import logsumexp

from counting.analytic.orthant_batched import log_orthant_keys
from counting.boolean.tables import signs_of
from counting.engine.protocols import Facts, Reducer
from counting.engine.readouts import HiddenDraws
from counting.engine.run import PassFacts, RunOptions, run_pass
from counting.mechanisms.predicates import Predicate
from counting.estimators.problem import Problem
from counting.estimators.result import Estimate
from counting.models import Forward, model_inputs, supporting
from counting.spec.errors import SpecError
from counting.spec.estimator import ReadoutSettings
from counting.spec.job import Spec
from counting.spec.model import ModelSpec
from counting.spec.prior import PriorSpec
from counting.tails import Z95, MeanSummary, summary_from_sums, tail_size

MAX_INPUTS = 7  # 2**n points, at most 251 dimensions in the lattice rule (counting.analytic.orthant_batched)
KIND = "volume-readout"


def check_readout(problem: Problem, settings: ReadoutSettings, need_target: bool = True) -> None:
    """A one-line error, before any work, where the readout cannot be integrated out."""
    supporting(problem.model, "readout_features", "a linear readout of named features to integrate out")
    if problem.prior.kind != "gaussian":
        raise SpecError("prior.kind", f"'gaussian' for estimator {settings.kind!r} (the readout is integrated out "
                        "as a Gaussian)", problem.prior.kind)
    if need_target and problem.target is None:
        raise SpecError("estimator.kind", f"an estimator other than {settings.kind!r} for a condition other than "
                        "\"computes the target\"", settings.kind)
    if problem.n_inputs > MAX_INPUTS:
        raise SpecError("model.n_inputs", f"at most {MAX_INPUTS} for estimator {settings.kind!r}", problem.n_inputs)


def readout_covariance(features: Float[Array, "B F P"], prior: PriorSpec) -> Float[Array, "B P P"]:
    """The outputs' covariance given the features: ``sigma_w^2 F F^T / W + sigma_b^2`` per network."""
    fan_in = features.shape[1]
    gram = jnp.einsum("bfp,bfq->bpq", features, features)
    return (prior.sigma_w**2 / fan_in) * gram + prior.sigma_b**2


class ChunkSums(NamedTuple):
    """What the host keeps of a pass for ``T`` targets: per chunk in chunk order (``[chunks, T]``:
    ``log sum p``, ``log sum p^2``, networks with ``p = 0``; ``[chunks]``: networks) and over the
    pass (``[K, T]``: each target's largest ``log p``, descending, with their QMC relative
    standard errors)."""

    log_sum: np.ndarray
    log_sum_sq: np.ndarray
    networks: np.ndarray
    zeros: np.ndarray
    top_log_p: np.ndarray
    top_rel_se: np.ndarray


class ReadoutTarget(NamedTuple):
    """What one volume of a readout pass measures: "the readout computes ``truth_table``" on the
    cube points ``points`` (all of them when ``None``: an orthant over those points alone, e.g. "agrees
    with f on the training set S"), for networks whose hidden layers satisfy ``where`` (``None``:
    all; a predicate of the forward's hidden sites only, such as
    :func:`counting.mechanisms.sites.holds`: the forwards' outputs are those of a zero readout).
    The volume is ``E_hidden[1{where} P(readout agrees with f on points | hidden)]``."""

    truth_table: int
    where: Predicate | None = None
    points: tuple[int, ...] | None = None


def as_target(t: int | ReadoutTarget) -> ReadoutTarget:
    return t if isinstance(t, ReadoutTarget) else ReadoutTarget(int(t))


class ReadoutTally:
    """A tally (:class:`counting.engine.tally.Tally`) of ``log P(f | hidden)`` per network for each of
    ``targets`` (truth tables or :class:`ReadoutTarget`): on the device the orthant probabilities
    (``[B, T]``), on the host :class:`ChunkSums`. One compiled pass serves every target: each distinct
    (function, points) pair costs one orthant probability per network, whatever the ``where``
    conditions on it, and its QMC shifts come from ``fold_in(shift key, u)``, ``u`` its place among the
    distinct pairs in the order of ``targets``."""

    def __init__(self, model: ModelSpec, prior: PriorSpec, targets: Sequence[int | ReadoutTarget],
                 settings: ReadoutSettings):
        self.kind = KIND
        self.model, self.prior, self.settings = model, prior, settings
        self.arch = supporting(model, "readout_features", "a linear readout of named features to integrate out")
        self.x = model_inputs(model)
        self.targets = tuple(as_target(t) for t in targets)
        self.pairs = list(dict.fromkeys((t.truth_table, t.points) for t in self.targets))  # distinct, in order
        self.keep = tail_size(settings.samples) + 1
        self.load({})

    @property
    def n_targets(self) -> int:
        return len(self.targets)

    @property
    def reducer(self) -> Reducer:
        return Reducer(self.reduce, needs_facts=True)

    def reduce(self, fwd: Forward, valid: Bool[Array, "B"], facts: Facts) -> dict:
        s, n = self.settings, self.model.n_inputs
        cov = readout_covariance(self.arch.readout_features(self.model, fwd, jnp.asarray(self.x)), self.prior)
        keys = jax.random.wrap_key_data(facts["shift_key"], impl=s.key_impl)
        by_pair: dict = {}
        for points in dict.fromkeys(p for _, p in self.pairs):  # one compiled orthant per point set
            idx = [u for u, (_, p) in enumerate(self.pairs) if p == points]
            sel = np.arange(2**n) if points is None else np.asarray(points)
            c = cov if points is None else cov[:, sel][:, :, sel]  # the whole cube needs no gather
            signs = jnp.asarray(np.stack([signs_of(self.pairs[u][0], n)[sel] for u in idx]).astype(np.float32))

            def one(sg, u, c=c):
                k = jax.vmap(jax.random.fold_in, (0, None))(keys, u)
                out = log_orthant_keys(k, c, jnp.broadcast_to(sg, c.shape[:2]), s.n_qmc, s.shifts, s.tilt)
                return out.log_p, out.rel_se

            lp, se = jax.lax.map(lambda a: one(*a), (signs, jnp.asarray(idx, jnp.uint32)))  # [U, B]
            by_pair.update({u: (lp[j], se[j]) for j, u in enumerate(idx)})
        log_p, rel_se = [], []
        for t in self.targets:
            lp, se = by_pair[self.pairs.index((t.truth_table, t.points))]
            ok = valid if t.where is None else valid & t.where(fwd)
            log_p.append(jnp.where(ok, lp, -jnp.inf))
            rel_se.append(jnp.where(ok, se, 0.0))
        return {"log_p": jnp.stack(log_p, axis=1), "rel_se": jnp.stack(rel_se, axis=1)}

    def add(self, result: Mapping[str, Any], n_valid: np.ndarray) -> None:
        log_p, rel_se = np.asarray(result["log_p"]), np.asarray(result["rel_se"])
        t = self.n_targets
        for c, n in enumerate(np.asarray(n_valid)):
            if n:
                self.add_chunk(log_p[c].reshape(-1, t)[:n].astype(np.float64), rel_se[c].reshape(-1, t)[:n])

    def add_chunk(self, lp: np.ndarray, rel_se: np.ndarray) -> None:
        """Fold one chunk's ``log p`` (``[networks, T]``, network order) in; a ``nan`` (a failure of
        the orthant computation) stops the pass rather than count as anything."""
        if np.isnan(lp).any():
            net, t = np.argwhere(np.isnan(lp))[0]
            raise FloatingPointError(f"readout: P(f | hidden) is nan for network {net} of chunk {len(self.sums.networks)} "
                                     f"(target number {t}); nothing was written")
        s = self.sums
        top = self.largest(np.concatenate([s.top_log_p, lp]), np.concatenate([s.top_rel_se, rel_se.astype(np.float64)]))
        self.sums = ChunkSums(np.vstack([s.log_sum, logsumexp(lp, axis=0)]),
                              np.vstack([s.log_sum_sq, logsumexp(2 * lp, axis=0)]),
                              np.append(s.networks, len(lp)), np.vstack([s.zeros, np.isneginf(lp).sum(axis=0)]), *top)

    def largest(self, lp: np.ndarray, rel_se: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each column's ``keep`` largest ``log p`` (descending; a stable order) with their errors."""
        order = np.argsort(-lp, axis=0, kind="stable")[: self.keep]
        return np.take_along_axis(lp, order, 0), np.take_along_axis(rel_se, order, 0)

    def state(self) -> dict[str, np.ndarray]:
        return {k: np.array(v) for k, v in self.sums._asdict().items()}

    def load(self, state: Mapping[str, np.ndarray]) -> None:
        t = self.n_targets
        empty = {"networks": np.zeros(0, np.int64), "zeros": np.zeros((0, t), np.int64)}
        self.sums = ChunkSums(**{k: np.array(state[k]) if k in state else empty.get(k, np.zeros((0, t)))
                                 for k in ChunkSums._fields})

    def merge_states(self, states) -> dict[str, np.ndarray]:
        """Parts of a job (in chunk order) as one state: chunk arrays joined, the largest terms merged."""
        cat = {k: np.concatenate([np.asarray(s[k]) for s in states]) for k in ChunkSums._fields}
        cat["top_log_p"], cat["top_rel_se"] = self.largest(cat["top_log_p"], cat["top_rel_se"])
        return cat

    def finalize(self) -> ChunkSums:
        return self.sums


def summarize(sums: ChunkSums, target: int = 0) -> MeanSummary:
    """The mean of ``P(f | hidden)`` over the pass for target number ``target``, with its interval and diagnostics."""
    n = int(sums.networks.sum())
    top = sums.top_log_p[:, target]
    return summary_from_sums(n, float(logsumexp(sums.log_sum[:, target])),
                             float(logsumexp(sums.log_sum_sq[:, target])), float(top[0]) if len(top) else -math.inf,
                             top)


def warning_text(s: MeanSummary) -> str | None:
    """One line where the mean is not yet reliable (``None`` where it is)."""
    if s.reliable:
        return None
    why = ("too few networks for a tail fit" if not math.isfinite(s.khat)
           else f"Pareto k-hat {s.khat:.2f} >= {s.threshold:.2f}")
    return (f"not yet reliable: {why} at {s.n:,} networks (the largest network holds {s.max_share:.0%} of the "
            "sum); more networks, or a tempered estimator, before citing it")


def readout_estimate(sums: ChunkSums, target: int = 0, *, seconds: float = 0.0, seed: int | None = 0,
                     diagnostics: Mapping[str, Any] | None = None) -> Estimate:
    """The :class:`~counting.estimators.result.Estimate` of target number ``target`` of a pass's :class:`ChunkSums`."""
    s = summarize(sums, target)
    zeros = int(sums.zeros[:, target].sum())
    diag = {"khat": s.khat, "khat_threshold": s.threshold, "reliable": s.reliable, "max_share": s.max_share,
            "ess": s.ess, "rel_se": s.rel_se, "zero_networks": zeros,
            "top_orthant_rel_se": float(sums.top_rel_se[0, target]) if len(sums.top_rel_se) else math.nan,
            **dict(diagnostics or {})}
    warning = warning_text(s)
    if warning is not None:
        diag["warning"] = warning
    if not math.isfinite(s.log_mean):  # no network's readout reaches f: hit-or-miss's bound over hidden draws
        bound = -math.expm1(math.log(0.05) / s.n)
        return Estimate(None, (None, math.log10(bound)), 0.0, "readout", s.n, "networks", None, seconds, seed,
                        True, diag)
    ln10, z = math.log(10), Z95 * s.rel_se
    # the interval's ends in logs where the linear ones underflow (a mean below about 1e-308: the
    # nearly infeasible orthants of narrow deep networks); no lower end where the interval reaches 0
    lo = math.log10(s.lo) if s.lo > 0 else (s.log_mean + math.log1p(-z)) / ln10 if z < 1 else None
    hi = math.log10(s.hi) if s.hi > 0 else (s.log_mean + math.log1p(z)) / ln10
    return Estimate(s.log_mean / ln10, (lo, hi), s.mean, "readout", s.n, "networks", None, seconds, seed, False, diag)


def one_cpu_device(options: RunOptions) -> tuple | None:
    """On a CPU backend, the first device alone: the tilt's Newton solve (a LAPACK call inside a loop)
    can hang XLA's CPU runtime when several CPU devices run it at once, so the pass runs on one
    (numbers do not depend on the device count); elsewhere the run's own devices."""
    devices = list(options.devices) if options.devices is not None else jax.local_devices()
    return tuple(devices[:1]) if devices and devices[0].platform == "cpu" else options.devices


def estimate_sums(problem: Problem, targets: Sequence[int | ReadoutTarget], settings: ReadoutSettings,
                  options: RunOptions = RunOptions()) -> tuple[list[Estimate], ChunkSums]:
    """:func:`estimate_many`'s estimates with the pass's :class:`ChunkSums` (for :func:`restricted_share`)."""
    check_readout(problem, settings, need_target=False)
    spec = Spec(problem.model, problem.prior, problem.target, settings)
    tally = ReadoutTally(problem.model, problem.prior, tuple(targets), settings)
    options = dataclasses.replace(options, batch_size=settings.block_size, devices=one_cpu_device(options))
    facts = run_pass(spec, tally, options, source=HiddenDraws(spec))
    diag = {"chunks": facts.chunks, "networks_per_second": facts.networks_per_second,
            "resumed_from_chunk": facts.resumed_from_chunk}
    sums = tally.finalize()
    return [readout_estimate(sums, t, seconds=facts.seconds, seed=settings.seed, diagnostics=diag)
            for t in range(len(targets))], sums


def pass_facts(estimates: Sequence[Estimate], settings: ReadoutSettings) -> PassFacts:
    """The facts of the one pass behind ``estimates`` (those of :func:`estimate_many` or
    :func:`estimate_sums`), for an experiment that runs that pass as a job."""
    e = estimates[0]
    d = e.diagnostics
    return PassFacts(e.samples, int(d["chunks"]), settings.chunk_size, settings.block_size, 1,
                     int(d["resumed_from_chunk"]), e.seconds, float(d["networks_per_second"]))


def estimate_many(problem: Problem, targets: Sequence[int | ReadoutTarget], settings: ReadoutSettings,
                  options: RunOptions = RunOptions()) -> list[Estimate]:
    """The volumes of several targets (truth tables, or :class:`ReadoutTarget` with a hidden-layer
    condition or a subset of points) from one pass over the same hidden draws (``problem``'s own
    target, if any, is not among them unless listed); a value depends on its target's place in the
    list (:class:`ReadoutTally`: the QMC shifts)."""
    return estimate_sums(problem, targets, settings, options)[0]


class ShareSummary(NamedTuple):
    """A share ``V(part) / V(whole)`` of one readout pass (:func:`restricted_share`): its value,
    its delta-method standard error and 95% interval (clipped to ``[0, 1]``), and the networks."""

    share: float
    se: float
    lo: float
    hi: float
    n: int


def restricted_share(sums: ChunkSums, part: int, whole: int) -> ShareSummary:
    """The share ``E[a] / E[b]`` of target ``part`` in target ``whole`` of one pass, with a paired
    interval: both means are over the same networks, ``a_i = 1{where_i} p_i`` and ``b_i = p_i``
    (``part`` a :class:`ReadoutTarget` with the same function and points as ``whole``, ``whole``
    without ``where``: the tally computes one ``p_i`` for both), so ``a_i b_i = a_i^2`` and the
    pass's sums give the delta-method variance of the ratio of means,
    ``var(R) = sum (a_i - R b_i)^2 / ((n - 1) n mean(b)^2)``, ``R = sum a / sum b``. The interval
    is the normal one, ``R +- 1.96 se``, clipped to ``[0, 1]``; it is as good as the normal
    intervals of the means (read both targets' k-hat). Where the delta method has no width because
    every network with ``b_i > 0`` is on one side (the tally's zero counts say so exactly): none has
    ``a_i > 0``, the share is 0 and the upper end is the one-sided 95% bound of hit-or-miss over
    the effective sample size of ``whole``'s terms, ``1 - 0.05^(1 / ess)``; all have ``a_i = b_i``,
    the share is 1 and the lower end ``0.05^(1 / ess)``.

    >>> lp = np.log(np.array([[0.5, 0.5], [0.25, 1.0], [0.25, 0.25]]))   # p = 0.5, 0.25, 0.25; a = 0.5, 0, 0.25
    >>> lp[1, 1] = -np.inf
    >>> sums = ChunkSums(logsumexp(lp, axis=0)[None], logsumexp(2 * lp, axis=0)[None], np.array([3]),
    ...                  np.array([[0, 1]]), lp, np.zeros_like(lp))
    >>> r = restricted_share(sums, 1, 0)
    >>> round(r.share, 3), round(r.se, 3)      # 0.75; sum (a - R b)^2 = 0.0546875, over 2 * 3 * (1/3)^2
    (0.75, 0.286)
    """
    n = int(sums.networks.sum())
    la, lb = float(logsumexp(sums.log_sum[:, part])), float(logsumexp(sums.log_sum[:, whole]))
    la2, lb2 = float(logsumexp(sums.log_sum_sq[:, part])), float(logsumexp(sums.log_sum_sq[:, whole]))
    if not math.isfinite(lb):
        return ShareSummary(math.nan, math.nan, math.nan, math.nan, n)
    ess = math.exp(2 * lb - lb2)
    if not math.isfinite(la):
        return ShareSummary(0.0, 0.0, 0.0, -math.expm1(math.log(0.05) / ess), n)
    if int(np.asarray(sums.zeros)[:, part].sum()) == int(np.asarray(sums.zeros)[:, whole].sum()):  # a_i = b_i for all i
        return ShareSummary(1.0, 0.0, math.exp(math.log(0.05) / ess), 1.0, n)
    r = math.exp(la - lb)
    # sum (a - R b)^2 / (sum b)^2 = sum a^2 (1 - 2R) / (sum b)^2 + R^2 sum b^2 / (sum b)^2
    ss = max(math.exp(la2 - 2 * lb) * (1 - 2 * r) + r * r * math.exp(lb2 - 2 * lb), 0.0)
    se = math.sqrt(ss * n / (n - 1)) if n > 1 else math.nan
    return ShareSummary(r, se, max(r - Z95 * se, 0.0), min(r + Z95 * se, 1.0), n)


def estimate(problem: Problem, settings: ReadoutSettings, options: RunOptions = RunOptions()) -> Estimate:
    """``V(f) = E_hidden[P(f | hidden)]`` over ``settings.samples`` hidden draws (see the module docstring)."""
    check_readout(problem, settings)  # the target is needed here; estimate_many checks the rest again (cheap)
    return estimate_many(problem, (problem.target.truth_table,), settings, options)[0]
