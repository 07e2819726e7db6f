"""The compile-heavy docstring examples (:data:`conftest.SLOW_EXAMPLES`), which the default run
leaves out: each runs here, in the slow step, exactly as ``--doctest-modules`` would run it."""

from __future__ import annotations

import doctest
import importlib

import pytest

from conftest import SLOW_EXAMPLES


def _example(name: str) -> doctest.DocTest:
    """The docstring example called ``name`` (a module's, or a function's inside it)."""
    parts = name.split(".")
    for k in range(len(parts), 0, -1):
        try:
            module = importlib.import_module(".".join(parts[:k]))
        except ModuleNotFoundError:
            continue
        found = [t for t in doctest.DocTestFinder().find(module) if t.name == name]
        assert len(found) == 1, (name, [t.name for t in doctest.DocTestFinder().find(module)])
        return found[0]
    raise AssertionError(f"no module for {name}")


@pytest.mark.slow  # a compile of tens of seconds each
@pytest.mark.parametrize("name", SLOW_EXAMPLES)
def test_compile_heavy_examples_run(name):
    test = _example(name)
    assert test.examples, name
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.failures == 0 and runner.tries == len(test.examples), (name, runner.summarize())
