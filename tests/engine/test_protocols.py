"""Every parameter source is what :class:`counting.engine.protocols.Source` declares, and gives the
engine parameters (:class:`~counting.engine.protocols.ParameterSource`) or outputs
(:class:`~counting.engine.protocols.OutputSource`)."""

import dataclasses

import numpy as np

from counting.engine.draws import PriorDraws
from counting.engine.enumeration import Enumeration
from counting.engine.fused import CounterDraws
from counting.engine.fused_kernel import KernelOutputs
from counting.engine.protocols import Drawn, OutputSource, ParameterSource, Source, evaluates
from counting.engine.readouts import SharedReadouts
from counting.spec import parse_spec
from counting.training.source import TrainedDraws

NET = "[model]\nn_inputs = 2\nwidths = [3]\n[estimator]\nchunk_size = 8\n"


def fused(spec, **est):
    return dataclasses.replace(spec, estimator=dataclasses.replace(spec.estimator, sampler="fused", **est))


def sources():
    plain = parse_spec(NET, need_target=False)
    ternary = parse_spec(NET.replace("[estimator]", "[prior]\nkind = 'ternary'\n[estimator]"), need_target=False)
    trained = parse_spec(NET + "[target]\nname = 'and'\n[training]\nm = 4\nlearning_rate = 0.1\n")
    return {"prior": PriorDraws(plain), "counters": CounterDraws(fused(plain)),
            "kernel": KernelOutputs(fused(plain, fused_kernel="interpret"), interpret=True),
            "enumeration": Enumeration(ternary), "shared": SharedReadouts(plain, 3), "trained": TrainedDraws(trained)}


def test_every_source_is_a_source_of_parameters_or_of_outputs():
    for name, src in sources().items():
        assert isinstance(src, Source) and isinstance(src.unit, str), name
        kernel = name == "kernel"
        assert isinstance(src, OutputSource) == evaluates(src) == kernel, name
        assert isinstance(src, ParameterSource) != kernel, name


def test_trained_draws_give_their_facts_as_drawn():
    src = sources()["trained"]
    made = src.params(src.network_inputs(src.chunk_inputs(np.arange(1, dtype=np.uint32))[0], 8))
    assert isinstance(made, Drawn) and made.flat.shape == (8, 13) and set(made.facts) == {"steps", "fitted"}
