"""Readable llama names (:mod:`counting.boolean.formula`) and the llamaizer's figures: every formula
computes the function it names, and every figure and panel is titled, every axis labelled, a
caption explains the intervals and llamas are named by formula, never by hex."""

import re

import matplotlib.pyplot as plt
import numpy as np
import pytest

from counting.boolean.formula import formula
from counting.boolean.tables import full_table, named_truth_table
from counting.experiments.llamaizer.config import Architecture, Family
from counting.spec.target import Target
from counting.experiments.llamaizer.figures import cost_figure, discard_figure, llama_label, share_figure
from counting.experiments.llamaizer.plan import plan_target
from counting.experiments.llamaizer.tables import tables
from counting.experiments.llamaizer.tally import TargetCounts

DESCRIPTION = re.compile(r"^(exactly|at least|at most|number of) |fn of ")


def evaluate(text: str, n: int) -> int:
    """The truth table of a formula as :func:`formula` writes it."""
    if text in ("false", "true"):
        return 0 if text == "false" else full_table(n)
    py = re.sub(r"not (x\d)", r"(not \1)", text)
    py = re.sub(r"if (\(not x\d\)|x\d) then (\(not x\d\)|x\d) else (\(not x\d\)|x\d)", r"(\2 if \1 else \3)", py)
    py = py.replace(" xor ", " ^ ")
    maj = lambda a, b, c: a + b + c >= 2  # noqa: E731
    return sum(int(bool(eval(py, {"maj": maj}, {f"x{j}": bool(i >> j & 1) for j in range(n)}))) << i
               for i in range(1 << n))


@pytest.mark.parametrize("n", [1, 2, 3])
def test_every_formula_computes_its_function(n):
    described = 0
    for tt in range(1 << (1 << n)):
        text = formula(tt, n)
        if DESCRIPTION.search(text):
            described += 1
            continue
        assert evaluate(text, n) == tt, (hex(tt), text)
    assert described == {1: 0, 2: 0, 3: 16}[n]  # no formula of at most 4 literals: counted or described


def test_formula_names():
    assert formula(named_truth_table("x2", 5), 5) == "x2"
    assert formula(named_truth_table("x2", 5) ^ full_table(5), 5) == "not x2"
    assert formula(named_truth_table("majority", 3), 3) == "maj(x0, x1, x2)"
    assert formula(named_truth_table("parity", 4), 4) == "x0 xor x1 xor x2 xor x3"
    assert formula(named_truth_table("and", 5), 5) == "x0 and x1 and x2 and x3 and x4"
    assert formula(named_truth_table("or", 4) ^ full_table(4), 4) == "not x0 and not x1 and not x2 and not x3"
    assert formula(named_truth_table("majority", 5), 5) == "at least 3 of x0, x1, x2, x3, x4"
    assert llama_label("0x88888888") == "x0 and x1" and llama_label("0x8") == "x0 and x1"
    assert formula(0xCA389FC8, 5) == "non-threshold fn of x0..x4, degree 5"


def small_tables() -> dict:
    """The tables of one 3-1-1 pass with made-up counts: target and(x0,x1), llamas x2, x0 xor x2, maj."""
    fam = Family("named", "named", truth_tables=(0xF0, 0x5A, 0xE8))
    plan = plan_target(Target(0x88, 3, "and01"), (fam,), 3)
    held = np.array([[40, 0, 5], [40, 0, 5]])  # layer 1, any
    counts = TargetCounts(100, held, np.array([3, 0, 1]), {"named": np.array([[40, 40, 44], [40, 40, 44]])},
                          np.array([[900, 10, 100], [900, 10, 100]]))
    return tables(Architecture("3-1-1", (1,)), (plan,), {"and01": counts}, samples=10_000, n_inputs=3, exact=False)


@pytest.mark.parametrize("draw", [cost_figure, share_figure, discard_figure])
def test_figures_are_titled_labelled_and_captioned(draw):
    t = small_tables()
    fig = draw(t[{cost_figure: "cost", share_figure: "share", discard_figure: "discard"}[draw]])
    try:
        assert fig._suptitle is not None and fig._suptitle.get_text()
        for ax in fig.axes:
            assert ax.get_title() and ax.get_xlabel()
        assert fig.axes[0].get_ylabel()
        caption = " ".join(x.get_text() for x in fig.texts).replace("\n", " ")
        assert "95% Clopper-Pearson" in caption
        labels = [x.get_text() for ax in fig.axes for x in ax.get_yticklabels() + ax.get_xticklabels()]
        labels += [x.get_text() for ax in fig.axes for x in ax.texts]
        assert not [s for s in labels if "0x" in s]
        if draw is discard_figure:
            assert [x.get_text() for x in fig.axes[0].get_yticklabels()] == ["x2", "maj(x0, x1, x2)"]
    finally:
        plt.close(fig)
