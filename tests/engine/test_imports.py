"""The engine stands below training: no module under ``counting/engine/`` imports ``counting.training``
(function-level imports included), so a job with ``[training]`` hands the engine its trained source
where the job is assembled, and the engine refuses to count such a spec's prior draws instead."""

import ast
from pathlib import Path

import pytest

from counting.engine.draws import prior_source
from counting.spec import SpecError, parse_spec

ENGINE = Path(__file__).resolve().parents[2] / "counting" / "engine"


def imported(path: Path) -> set[str]:
    """Every module ``path`` imports, anywhere in the file (``from a import b`` gives ``a`` and ``a.b``)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return out


def test_no_engine_module_imports_training():
    offenders = {p.name: sorted(m for m in imported(p) if m == "counting.training" or m.startswith("counting.training."))
                 for p in sorted(ENGINE.rglob("*.py"))}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_check_sees_function_level_imports(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("def g():\n    from counting.training.source import trained_source\n")
    assert "counting.training.source" in imported(f)


def test_the_prior_is_not_the_source_of_trained_networks():
    spec = parse_spec("[model]\nn_inputs = 2\nwidths = []\n[target]\nname = 'and'\n[training]\nm = 4\n")
    with pytest.raises(SpecError, match="^training: expected the trained networks' source"):
        prior_source(spec, "cpu")
    posterior = parse_spec("[model]\nn_inputs = 2\nwidths = []\n[target]\nname = 'and'\n[training]\nm = 4\n"
                           "posterior = true\n")
    assert prior_source(posterior, "cpu").unit == "networks"
