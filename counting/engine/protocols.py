"""What the engine asks of what it is handed: a :class:`Reducer` and a :class:`Source`.

A *reducer* is the device half of a tally (:mod:`counting.engine.tally`): a function from one
evaluated block of networks to a small result, declared with what it needs besides the block's
forward (:class:`Reducer`'s fields; the engine reads them, nothing else).

A *source* names and makes the networks of a job (:class:`Source`): the engine asks it for each
step's chunk inputs, for each chunk's network inputs, and for each block either its flat
parameters (a :class:`ParameterSource`, then evaluated by :func:`counting.models.forward`) or its
outputs directly (an :class:`OutputSource`, such as the fused kernel). The parameter sources are
the prior's draws (:class:`counting.engine.draws.PriorDraws`), the counter-based sampler
(:class:`counting.engine.fused.CounterDraws`), an enumeration of a discrete prior
(:class:`counting.engine.enumeration.Enumeration`), shared draws' widened networks
(:class:`counting.engine.readouts.SharedReadouts`) and trained networks
(:class:`counting.training.source.TrainedDraws`, whose ``params`` gives :class:`Drawn`: facts of each
network beside its parameters); the fused kernel's outputs
(:class:`counting.engine.fused_kernel.KernelOutputs`) are the output source.

Example:
    >>> import jax.numpy as jnp
    >>> r = as_reducer(lambda fwd, valid: jnp.sum(valid, dtype=jnp.int32))
    >>> r.needs_params, r.needs_facts, r.per_step is None, as_reducer(r) is r
    (False, False, True, True)
    >>> int(apply(r, None, jnp.array([True, False, True]), params=None, facts=None))
    2
    >>> from counting.spec import parse_spec
    >>> from counting.engine.draws import PriorDraws
    >>> src = PriorDraws(parse_spec("[model]\\nn_inputs=2\\nwidths=[]", need_target=False))
    >>> isinstance(src, Source), isinstance(src, ParameterSource), isinstance(src, OutputSource)
    (True, True, False)
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Protocol, runtime_checkable

from jaxtyping import Array, Bool, Float, UInt32

from counting.models import Forward

Facts = dict[str, Array]  # per-network facts of a source: name -> [B] array (a training run's steps, whether it fitted)


class Reducer(NamedTuple):
    """One evaluated block to a small result on the device, and what it needs besides.

    ``reduce(fwd, valid)``: ``fwd`` the block's :class:`~counting.models.Forward`, ``valid`` which of
    its networks count. With ``needs_params`` it is also handed the block's parameters as a third
    argument (a dict of batched arrays, as :func:`counting.models.forward` takes them; e.g. to
    evaluate lesioned copies); with ``needs_facts`` the source's per-network facts as a keyword
    ``facts`` (:class:`Drawn`). With ``per_step``, one device's results of a step (stacked over its
    chunks and their blocks) are finished on the device by ``per_step(stacked)``, which returns
    arrays with a leading axis (the devices' results are concatenated along it): the census sorts
    them there.
    """

    reduce: Callable[..., Any]
    needs_params: bool = False
    needs_facts: bool = False
    per_step: Callable[[Any], Any] | None = None


def as_reducer(reduce: Reducer | Callable[..., Any]) -> Reducer:
    """``reduce`` as a :class:`Reducer` (a bare function needs nothing but the forward and ``valid``)."""
    return reduce if isinstance(reduce, Reducer) else Reducer(reduce)


def apply(r: Reducer, fwd: Forward, valid: Bool[Array, "B"], params: dict | None, facts: Facts | None) -> Any:
    """``r.reduce`` on one block, handed what it declares it needs."""
    extra = {"facts": facts} if r.needs_facts else {}
    if r.needs_params:
        return r.reduce(fwd, valid, params, **extra)
    return r.reduce(fwd, valid, **extra)


class Drawn(NamedTuple):
    """A block's flat parameters with facts about each network (what a parameter source's
    ``params`` returns when it has facts to tell, for reducers with ``needs_facts``)."""

    flat: Float[Array, "B P"]
    facts: Facts


@runtime_checkable
class Source(Protocol):
    """Where a job's networks come from; every method is called on the device, while tracing.

    Network ``i`` of chunk ``c`` is named by ``network_inputs(chunk_inputs(ids)[j], chunk_size)[i]``
    (``ids[j] = c``; any pytree with a leading axis, such as keys or ``(chunk id, index)`` pairs), so
    what a network is depends on ``c`` and ``i`` alone, never on batching or devices. ``unit`` is
    what progress lines count (``"networks"``, ``"configurations"``, ...). Besides these, a source
    gives each block's networks as parameters (:class:`ParameterSource`) or as outputs
    (:class:`OutputSource`).
    """

    unit: str

    def chunk_inputs(self, chunks: UInt32[Array, "C"]) -> Any:
        """Per chunk id, what names its networks (a pytree with a leading axis of ``C``)."""

    def network_inputs(self, chunk_input: Any, size: int) -> Any:
        """Per network ``0 .. size - 1`` of one chunk, what names it (a pytree with a leading axis of ``size``)."""


@runtime_checkable
class ParameterSource(Source, Protocol):
    """A source that gives parameters, which the engine evaluates with :func:`counting.models.forward`."""

    def params(self, net: Any) -> Float[Array, "B P"] | Drawn:
        """The flat parameters of a block of networks (``[B, n_params]``, in
        :func:`counting.models.param_layout` order), or a :class:`Drawn` with facts beside them."""


@runtime_checkable
class OutputSource(Source, Protocol):
    """A source that evaluates its networks itself (outputs only: no sites, no parameters)."""

    def evaluate(self, net: Any) -> Forward:
        """The forward of a block of networks (one chunk, consecutive indices, as the engine's blocks are)."""


def evaluates(source: Source) -> bool:
    """Whether ``source`` evaluates its networks itself (an :class:`OutputSource`)."""
    return isinstance(source, OutputSource)


def drawn(made: Float[Array, "B P"] | Drawn) -> Drawn:
    """What a parameter source's ``params`` gave, as a :class:`Drawn` (``facts`` ``None`` when it had none)."""
    return made if isinstance(made, Drawn) else Drawn(made, None)
