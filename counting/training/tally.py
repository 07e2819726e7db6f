"""How the training runs went, counted beside any tally: runs, runs that fitted S, and their steps.

:class:`TrainingTally` wraps a tally (the census, hit-or-miss, an experiment's own): its reducer
asks the source for each network's facts (``steps``, ``fitted``;
:class:`counting.training.source.TrainedDraws`) and sums them as exact integers beside the wrapped
tally's result, in the same checkpoints and part files, so a resumed or split job reports the same
convergence as an uninterrupted one. :meth:`TrainingTally.facts` gives the totals.

Example:
    >>> import numpy as np
    >>> from counting.engine.tally import Hits
    >>> t = TrainingTally(Hits(lambda fwd: fwd.output[:, 0] > 0))
    >>> stats = np.array([[[1, 1, 4, 4], [1, 0, 9, 0]]], np.int32)   # [valid, fitted, steps, steps if fitted]
    >>> t.add((np.array([[1]], np.int32), stats), np.array([2]))
    >>> f = t.facts()
    >>> t.finalize(), f.runs, f.fitted, f.fitted_share, f.mean_steps
    (1, 2, 1, 0.5, 6.5)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import jax.numpy as jnp
import numpy as np

import counting.engine.distributed as distributed
from counting.engine.protocols import Reducer
from counting.engine.tally import CountingTally, Tally

STATE = "training_counts"  # the checkpoint's array: runs, fitted, steps, steps of fitted runs


@dataclass(frozen=True)
class TrainingFacts:
    """Totals over the runs counted: how many, how many fitted S, and steps taken."""

    runs: int
    fitted: int
    steps: int
    steps_fitted: int

    @property
    def fitted_share(self) -> float | None:
        return self.fitted / self.runs if self.runs else None

    @property
    def mean_steps(self) -> float | None:
        return self.steps / self.runs if self.runs else None

    @property
    def mean_steps_fitted(self) -> float | None:
        return self.steps_fitted / self.fitted if self.fitted else None

    def as_dict(self) -> dict:
        return {"runs": self.runs, "fitted": self.fitted, "not_fitted": self.runs - self.fitted,
                "fitted_share": self.fitted_share, "mean_steps": self.mean_steps,
                "mean_steps_fitted": self.mean_steps_fitted}


def run_stats(valid, facts) -> jnp.ndarray:
    """Per network: ``[counts, fitted, steps, steps if fitted]`` (zeros where it does not count)."""
    fitted = valid & facts["fitted"]
    steps = jnp.where(valid, facts["steps"], 0)
    return jnp.stack([valid.astype(jnp.int32), fitted.astype(jnp.int32), steps, jnp.where(fitted, steps, 0)], -1)


def _with_stats(inner: Callable, fwd, valid, *params, facts):
    return inner(fwd, valid, *params), run_stats(valid, facts)


def _finish_with_stats(inner: Callable, out):
    return inner(out[0]), out[1].reshape(1, -1, 4)


def training_reducer(inner: Reducer) -> Reducer:
    """``inner`` with each network's :func:`run_stats` beside its result (it needs the source's facts;
    a wrapped ``per_step`` still finishes ``inner``'s part of a step on the device)."""
    finish = None if inner.per_step is None else functools.partial(_finish_with_stats, inner.per_step)
    return Reducer(functools.partial(_with_stats, inner.reduce), needs_params=inner.needs_params,
                   needs_facts=True, per_step=finish)


class TrainingTally:
    """``inner``'s result, plus :class:`TrainingFacts` of the runs it saw (``kind`` is ``inner``'s)."""

    def __init__(self, inner: Tally):
        self.inner, self.kind = inner, inner.kind
        self.runs = CountingTally(inner.kind, {STATE: (4,)})  # the host half of the runs' counts
        self.reducer = training_reducer(inner.reducer)

    def add(self, result, n_valid) -> None:
        inner, stats = result
        self.inner.add(inner, n_valid)
        self.runs.add(stats, n_valid)

    @property
    def slices(self) -> bool:
        """Slices of chunks if ``inner`` takes them (the runs' counts always do)."""
        return getattr(self.inner, "slices", False)

    def state(self) -> dict[str, np.ndarray]:
        return {**self.inner.state(), **self.runs.state()}

    def load(self, state: Mapping[str, np.ndarray]) -> None:
        self.runs.load(state)
        self.inner.load({k: v for k, v in state.items() if k != STATE})

    def merge_states(self, states: Sequence[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
        inner = distributed.merge_states(self.inner, [{k: v for k, v in s.items() if k != STATE} for s in states])
        return {**inner, STATE: sum(np.asarray(s[STATE], np.int64) for s in states)}

    def facts(self) -> TrainingFacts:
        return TrainingFacts(*(int(x) for x in self.runs.finalize()))

    def finalize(self):
        return self.inner.finalize()

    def cleanup(self) -> None:
        if hasattr(self.inner, "cleanup"):
            self.inner.cleanup()
