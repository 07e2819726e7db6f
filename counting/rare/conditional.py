"""Shares among solutions of a rare condition: which mechanism the networks satisfying it use.

Each of ``R`` independent replicates of subset simulation or tempered SMC (keys
``fold_in(key(seed), r)``, as every replicated estimator) ends with a population of networks
satisfying the condition (:func:`counting.rare.subset.subset_sample`,
:func:`counting.rare.smc.smc_sample`); a ``classify`` function labels each of them (a route
class, a placement, ...) and each replicate gives the share of every label. Particles of one
replicate are correlated, so the interval of a share is a Student-t interval over the replicates'
shares (clipped to [0, 1]), the same rule as the volume's interval; the volume of the condition
itself comes with it (:func:`counting.rare.replicates.summarize_replicates`).

Example:
    >>> import numpy as np
    >>> from counting.spec import MLPSpec, ScaledPrior, SubsetSettings
    >>> from counting.mechanisms.predicates import computes
    >>> from counting.rare.coordinates import GaussianProblem
    >>> problem = GaussianProblem.of(MLPSpec(n_inputs=2, widths=()), ScaledPrior(), computes(0x8, 2))
    >>> sign = lambda g: np.where(np.asarray(g)[:, 0] > 0, "w0 > 0", "w0 <= 0")   # first weight's sign
    >>> est = replicate_shares(problem, SubsetSettings(particles=200, steps=4, replicates=4), sign,
    ...                        ("w0 > 0", "w0 <= 0"), seed=0)
    >>> est.shares["w0 > 0"], est.reached          # AND needs both input weights positive
    (1.0, 4)
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple, Sequence

import numpy as np
from scipy import stats

from counting.rare.coordinates import GaussianProblem
from counting.rare.replicates import ReplicateSummary, replicate_key, summarize_replicates
from counting.rare.smc import smc_sample
from counting.rare.subset import subset_sample
from counting.spec.estimator import SMCSettings, SubsetSettings

SAMPLERS = {"subset": subset_sample, "smc": smc_sample}


class ShareEstimate(NamedTuple):
    """Shares of each label among the solutions: the mean over replicates that reached the condition,
    its 95% t-interval, every replicate's shares ``[R, K]`` (rows of replicates that did not reach it
    are NaN), the solutions labelled per replicate, and the condition's volume."""

    labels: tuple[str, ...]
    shares: dict[str, float]
    ci95: dict[str, tuple[float, float]]
    per_replicate: np.ndarray
    solutions: tuple[int, ...]
    volume: ReplicateSummary
    evaluations: int

    @property
    def reached(self) -> int:
        return int(np.sum(np.isfinite(self.per_replicate[:, 0]))) if len(self.per_replicate) else 0


def t_interval(values: np.ndarray, conf: float = 0.95) -> tuple[float, float]:
    """Student-t interval of the mean of ``values`` at level ``conf``, clipped to [0, 1]."""
    v = np.asarray(values, np.float64)
    if len(v) < 2:
        return (0.0, 1.0)
    half = stats.t.ppf(0.5 + conf / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))
    m = v.mean()
    return float(max(0.0, m - half)), float(min(1.0, m + half))


def replicate_shares(problem: GaussianProblem, settings: SubsetSettings | SMCSettings, classify: Callable[[np.ndarray], np.ndarray],
                     labels: Sequence[str], seed: int | None = None, key_impl: str | None = None) -> ShareEstimate:
    """``settings.replicates`` runs of ``problem`` by ``settings.kind`` (``subset`` or ``smc``; seed
    and key implementation from ``settings`` unless given), each population labelled by
    ``classify(coords) -> labels``."""
    sampler = SAMPLERS[settings.kind]
    seed = settings.seed if seed is None else seed
    key_impl = key_impl or settings.key_impl
    labels = tuple(labels)
    rows, counts, log_ps, evals = [], [], [], 0
    for r in range(settings.replicates):
        sample = sampler(replicate_key(seed, r, key_impl), problem, settings)
        log_ps.append(sample.run.log_p)
        evals += sample.run.evaluations
        m = int(sample.coords.shape[0])
        counts.append(m)
        if m == 0:
            rows.append(np.full(len(labels), np.nan))
            continue
        got = np.asarray(classify(np.asarray(sample.coords)))
        unknown = set(got.tolist()) - set(labels)
        if unknown:
            raise ValueError(f"classify: expected labels among {labels}, got {sorted(unknown)}")
        rows.append(np.array([np.mean(got == lab) for lab in labels]))
    per = np.asarray(rows, np.float64)
    ok = per[np.isfinite(per[:, 0])]
    shares = {lab: (float(ok[:, i].mean()) if len(ok) else math.nan) for i, lab in enumerate(labels)}
    ci = {lab: (t_interval(ok[:, i]) if len(ok) else (math.nan, math.nan)) for i, lab in enumerate(labels)}
    return ShareEstimate(labels, shares, ci, per, tuple(counts), summarize_replicates(log_ps), evals)
