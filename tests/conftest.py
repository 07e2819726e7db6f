"""Test setup and the helpers tests share.

Every test (and every docstring example collected with ``--doctest-modules``) runs on the CPU with
JAX's key-reuse checker on. Shared helpers, imported as ``from conftest import ...``: ``cli`` runs
``python -m counting.cli`` in a subprocess with the same settings, ``write_spec`` writes a spec
file, ``assert_usage_error`` checks the one-line status-2 error contract, ``t_interval`` gives the
two-sided Student-t interval of replicate values, ``and3_spec`` is the perceptron AND-on-3-bits
spec whose tail volumes ``tests/exact_perceptron.py`` knows exactly, and ``hit_or_miss`` is the
``mc`` estimate of a spec's target or condition.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ["JAX_DEBUG_KEY_REUSE"] = "true"  # also inherited by CLI subprocesses

import jax  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from scipy import stats  # noqa: E402

jax.config.update("jax_debug_key_reuse", True)

from counting.engine.run import RunOptions  # noqa: E402
from counting.estimators import mc  # noqa: E402
from counting.estimators.problem import Problem  # noqa: E402
from counting.spec import parse_spec  # noqa: E402

ENV = {**os.environ, "JAX_PLATFORMS": "cpu", "JAX_DEBUG_KEY_REUSE": "true"}
ENV.pop("COUNTING_KILL_AFTER_CHUNKS", None)


def cli(*args, env_extra: dict | None = None, cwd: Path | None = None, timeout: float = 300
        ) -> subprocess.CompletedProcess:
    """``python -m counting.cli ARGS`` on the CPU with the key-reuse checker, captured."""
    env = {**ENV, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "counting.cli", *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=timeout)


def write_spec(tmp_path: Path, text: str, name: str = "spec.toml") -> Path:
    """Write a spec file and return its path."""
    p = tmp_path / name
    p.write_text(text)
    return p


def assert_usage_error(r: subprocess.CompletedProcess, field: str) -> str:
    """Status 2, exactly one non-empty stderr line ``counting: error: ...`` naming ``field``."""
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    line = lines[0]
    assert line.strip() and line.startswith("counting: error: "), line
    assert field in line, (field, line)
    return line


def t_interval(values, conf: float = 0.999) -> tuple[float, float]:
    """Two-sided Student-t interval at level ``conf`` (default 99.9%) for the mean of ``values``."""
    v = np.asarray(values, np.float64)
    half = stats.t.ppf(0.5 + conf / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))
    return float(v.mean() - half), float(v.mean() + half)


def and3_spec(sigma_b: float, extra: str = ""):
    """3-input perceptron, bias scale ``sigma_b``, target AND (``0x80``), seed 5, and ``extra`` estimator lines."""
    return parse_spec(f'[model]\nn_inputs = 3\nwidths = []\n[prior]\nsigma_b = {sigma_b}\n'
                      f'[target]\ntruth_table = "0x80"\n[estimator]\nseed = 5\n{extra}')


def hit_or_miss(spec, condition=None):
    """The ``mc`` estimate of ``condition`` (default: the spec's target) under the spec's settings."""
    return mc.estimate(Problem.of(spec, condition), spec.estimator, RunOptions(progress=False))


# Docstring examples that compile for tens of seconds (the readout estimators' tempered runs and
# weighted draws): the default run leaves them out, and tests/test_examples.py runs them in the
# slow step, whose files CI runs one per process.
SLOW_EXAMPLES = ("counting.estimators.readout_smc", "counting.rare.readout_smc", "counting.rare.readout_posterior",
                 "counting.analytic.orthant_batched.orthant_draws_keys",
                 "counting.experiments.depth.rare.readout_volumes_job", "counting.estimators.hidden_event")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Leave out the docstring examples of :data:`SLOW_EXAMPLES` (run by tests/test_examples.py)."""
    slow = [i for i in items if isinstance(i, pytest.DoctestItem) and i.name in SLOW_EXAMPLES]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [i for i in items if i not in slow]
