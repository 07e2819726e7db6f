"""Architecture knowledge has one home: every model kind answers through counting.models, an unknown
kind is a one-line error, and a kind without a feature is a one-line error naming the kinds with it."""

from dataclasses import dataclass

import pytest

from counting.analytic.kernel import check_nngp, nngp_kernel
from counting.experiments.depth.plan import model_depth, model_name, model_width, square_model
from counting.io.citation import citation
from counting.mechanisms.lesions import used_blocks
from counting.mechanisms.routes import first_stage, never, stages
from counting.models import KINDS, architecture, describe_model, kinds_with, supporting
from counting.spec import MLPSpec, ResMLPSpec, ScaledPrior, SpecError, parse_spec
from counting.spec.model import MODEL_KINDS, parse_model

FLAX = {"kind": "flax", "module": "counting.models.flax_zoo:MLP", "args": {"widths": [8]}}


@dataclass(frozen=True)
class Transformer:
    """A model of a kind the package does not know."""

    n_inputs: int = 3
    activation: str = "relu"
    inputs: str = "pm1"
    kind: str = "transformer"


def models():
    return {"mlp": MLPSpec(3, (40, 40)), "resmlp": ResMLPSpec(3, 16, 2, 16), "flax": parse_model(FLAX)}


def test_every_model_kind_has_an_architecture_of_that_kind():
    assert KINDS == MODEL_KINDS
    assert all(architecture(k).kind == k == architecture(m).kind for k, m in models().items())


# the exact text the command line, manifests, tables and the citation have always had
DESCRIPTIONS = {
    "mlp": ("3-40-40-1 mlp, relu", "3-40-40-1 relu MLP"),
    "resmlp": ("resmlp n=3 width=16 depth=2 hidden=16, relu",
               "residual MLP (3 inputs, width 16, 2 blocks of hidden width 16, relu)"),
    "flax": ("3-input flax counting.models.flax_zoo:MLP(widths=(8,))",
             "3-input flax module counting.models.flax_zoo:MLP(widths=(8,))"),
}


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_every_model_kind_gives_its_description_in_both_styles(kind):
    m = models()[kind]
    assert (describe_model(m), describe_model(m, "citation")) == DESCRIPTIONS[kind]
    m01 = parse_model({**({"kind": kind} if kind != "flax" else FLAX), "inputs": "01"})
    assert describe_model(m01).endswith(", {0,1} inputs")
    assert describe_model(m01, "citation").endswith(" on {0,1} inputs")


def test_the_citation_names_the_model_by_its_one_description():
    spec = {"model": {"kind": "resmlp", "n_inputs": 3, "width": 4, "depth": 1, "hidden": 4, "activation": "tanh"},
            "prior": {"kind": "gaussian", "sigma_w": 1.0, "sigma_b": 1.0},
            "target": {"truth_table": "0xe8", "name": "majority"}, "estimator": {"kind": "mc", "samples": 10}}
    m = {"kind": "volume", "spec": spec, "result": {"log10_volume": -1.0, "ci95": [-1.1, -0.9], "volume": 0.1,
                                                    "estimator": "mc", "cost": {"networks": 10}, "hits": 1}}
    want = describe_model(parse_spec(f"[target]\nname = 'majority'\n[model]\nkind = 'resmlp'\nwidth = 4\ndepth = 1\n"
                                     f"activation = 'tanh'").model, "citation")
    assert f"; {want}; " in citation(m) and want.startswith("residual MLP (3 inputs, width 4, 1 blocks")


def test_an_unknown_style_is_an_error():
    with pytest.raises(ValueError, match="^style: expected one of"):
        describe_model(MLPSpec(), "long")


UNKNOWN = "model.kind: expected one of ['mlp', 'resmlp', 'flax'], got 'transformer'"


@pytest.mark.parametrize("ask", [
    architecture, describe_model, stages, never, model_depth, model_width, model_name,
    lambda m: square_model(m.kind, 3, 2, 4),
    lambda m: check_nngp(m, ScaledPrior()),
    lambda m: supporting(m, "residual", "blocks to lesion"),
], ids=["architecture", "describe", "stages", "never", "depth", "width", "name", "square", "nngp", "supporting"])
def test_an_unknown_kind_is_a_one_line_error_not_an_attribute_error(ask):
    with pytest.raises(SpecError) as e:
        ask(Transformer())
    assert str(e.value) == UNKNOWN


@pytest.mark.parametrize("ask,message", [
    (stages, "model.kind: expected 'mlp' or 'resmlp' (routes are read stage by stage), got 'flax'"),
    (model_depth, "model.kind: expected 'mlp' or 'resmlp' (a depth), got 'flax'"),
    (lambda m: square_model("flax", 3, 2, 4),
     "model.kind: expected 'mlp' or 'resmlp' (square networks of a depth and a width), got 'flax'"),
    (lambda m: used_blocks(MLPSpec(3, (4,)), {}, 3),
     "model.kind: expected 'resmlp' (lesions act on residual blocks), got 'mlp'"),
    (lambda m: nngp_kernel(m, ScaledPrior()),
     "model.kind: expected 'mlp' for estimator 'nngp' (its kernel is known for mlp only), got 'flax'"),
], ids=["stages", "depth", "square", "lesions", "nngp"])
def test_a_kind_without_a_feature_is_an_error_naming_the_kinds_with_it(ask, message):
    with pytest.raises(SpecError) as e:
        ask(models()["flax"])
    assert str(e.value) == message


def test_the_features_of_each_kind():
    assert kinds_with("stages") == kinds_with("square") == ("mlp", "resmlp")
    assert kinds_with("residual") == ("resmlp",)
    assert kinds_with("nngp_steps") == kinds_with("shared_readouts") == ("mlp",)
    mlp, res = MLPSpec(3, (5, 5, 5)), ResMLPSpec(3, 6, 4, 2)
    assert (first_stage(mlp), never(mlp), model_depth(mlp), model_width(mlp)) == (1, 4, 3, 5)
    assert (first_stage(res), never(res), model_depth(res), model_width(res)) == (0, 5, 4, 6)
    assert square_model("mlp", 3, 2, 4) == MLPSpec(3, (4, 4))
    assert square_model("resmlp", 3, 2, 4, "tanh") == ResMLPSpec(3, 4, 2, 4, "tanh")
    assert (model_name(mlp), model_name(res)) == ("mlp-L3-w5", "resmlp-L4-w6")


@pytest.mark.parametrize("toml,prior", [
    ("[model]\nkind = 'resmlp'", ""), ("[model]\nactivation = 'tanh'", ""),
    ("[model]\nwidths = [4]", "[prior]\nkind = 'uniform'"),
])
def test_nngp_validity_is_one_rule_for_the_spec_and_the_kernel(toml, prior):
    """Reading a spec and computing its kernel refuse the same models with the same line."""
    with pytest.raises(SpecError) as read:
        parse_spec(f"{toml}\n{prior}\n[target]\nname = 'majority'\n[estimator]\nkind = 'nngp'")
    spec = parse_spec(f"{toml}\n{prior}\n[target]\nname = 'majority'")
    with pytest.raises(SpecError) as computed:
        nngp_kernel(spec.model, spec.prior)
    assert str(read.value) == str(computed.value)
