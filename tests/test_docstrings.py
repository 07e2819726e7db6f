"""The runnable examples in the docstrings of the site, llama, experiment and rare-event modules run."""

import doctest
import importlib

import pytest

MODULES = ["counting.predicates", "counting.sites", "counting.symmetry", "counting.llamas", "counting.llamaizer",
           "counting.plots", "counting.rare", "counting.smc"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
