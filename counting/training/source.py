"""The engine's source of trained networks: the prior's draws, each then trained on S.

:class:`TrainedDraws` names networks exactly as :class:`counting.engine.draws.PriorDraws` does (chunk
keys, network keys), so network ``i`` of chunk ``c`` starts from the very parameters the prior's
census counts, and ``params`` returns them after :func:`counting.training.fit.fit`, with the facts
of each run (``steps``, ``fitted``) for tallies that ask for them
(:class:`counting.training.tally.TrainingTally`). :func:`trained_source` is the source a job with
``[training]`` passes to the engine where it is assembled (:func:`counting.jobs.census_job`, the
training experiment's passes); none for a posterior: those networks are not trained.

Example:
    >>> import jax, numpy as np
    >>> from counting.spec import parse_spec
    >>> spec = parse_spec("[model]\\nn_inputs=2\\nwidths=[]\\n[target]\\nname='and'\\n"
    ...                   "[training]\\nm=4\\nlearning_rate=0.1\\n[estimator]\\nchunk_size=8")
    >>> src = trained_source(spec)
    >>> keys = src.network_inputs(src.chunk_inputs(np.arange(1, dtype=np.uint32))[0], 8)
    >>> flat, facts = src.params(keys)
    >>> flat.shape, bool(facts["fitted"].all())
    ((8, 3), True)
"""

from __future__ import annotations

import jax.numpy as jnp

import counting.training.fit as fit
from counting.engine.draws import PriorDraws, trains
from counting.engine.protocols import Drawn
from counting.spec.job import Spec
from counting.training.data import training_set


class TrainedDraws:
    """Prior draws trained on the spec's S (see the module docstring): a
    :class:`~counting.engine.protocols.ParameterSource` whose ``params`` give each run's facts too."""

    unit = "networks"  # what progress lines count

    def __init__(self, spec: Spec):
        self.spec = spec
        self.prior = PriorDraws(spec)
        self.data = training_set(spec)

    def chunk_inputs(self, chunks):
        return self.prior.chunk_inputs(chunks)

    def network_inputs(self, chunk_key, size: int):
        return self.prior.network_inputs(chunk_key, size)

    def params(self, keys) -> Drawn:
        flat0 = self.prior.params(keys)
        r = fit.fit(fit.training_keys(keys), flat0, self.spec.model, self.spec.training,
                    jnp.asarray(self.data.x), jnp.asarray(self.data.y))
        return Drawn(r.params, {"steps": r.steps, "fitted": r.fitted})


def trained_source(spec: Spec) -> TrainedDraws | None:
    """The source of a spec whose networks are trained, else ``None`` (the engine's default)."""
    return TrainedDraws(spec) if trains(spec) else None
