"""The package's shape: no import cycles (function-level imports included), no private names
imported across modules (nor into the tests and the experiment scripts), a runnable example in
every module's docstring, and architecture knowledge in one home: no ``model.kind`` compared with
a model kind outside ``counting/spec/`` and ``counting/models/``."""

import ast
from pathlib import Path

import pytest

from counting.spec.model import MODEL_KINDS

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "counting"
SCRIPTS = sorted((ROOT / "tests").rglob("*.py")) + sorted((ROOT / "experiments").rglob("*.py"))
ARCHITECTURE_HOMES = (PKG / "spec", PKG / "models")  # the only places that may compare a model's kind


def module_name(path: Path) -> str:
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """Every ``import counting...`` / ``from counting... import names`` anywhere in the file,
    resolved to (module, imported names)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names if a.name.split(".")[0] == "counting"]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "counting":
            names = [a.name for a in node.names]
            # "from counting.estimators import mc" imports the submodule counting.estimators.mc and
            # reads the package counting.estimators: counted as an edge to both (the strict reading)
            subs = [f"{node.module}.{n}" for n in names if f"{node.module}.{n}" in MODULES]
            out.append((node.module, [n for n in names if f"{node.module}.{n}" not in MODULES]))
            out += [(s, []) for s in subs]
    return out


def graph() -> dict[str, set[str]]:
    g = {}
    for name, path in MODULES.items():
        g[name] = {m for m, _ in imports(path) if m in MODULES and m != name}
    return g


def find_cycle(g: dict[str, set[str]]) -> list[str] | None:
    colour, stack = {}, []

    def visit(u):
        colour[u] = 1
        stack.append(u)
        for v in sorted(g[u]):
            if colour.get(v) == 1:
                return stack[stack.index(v):] + [v]
            if v not in colour:
                found = visit(v)
                if found:
                    return found
        stack.pop()
        colour[u] = 2
        return None

    for u in sorted(g):
        if u not in colour:
            found = visit(u)
            if found:
                return found
    return None


def test_import_graph_has_no_cycle():
    assert find_cycle(graph()) is None, " -> ".join(find_cycle(graph()))


def test_the_cycle_check_can_fail():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_modules_do_not_import_the_top_level_package():
    offenders = [n for n, p in MODULES.items() if n != "counting" and any(m == "counting" for m, _ in imports(p))]
    assert not offenders


def test_no_private_name_is_imported_across_modules():
    offenders = [(n, m, name) for n, p in MODULES.items() for m, names in imports(p) for name in names
                 if name.startswith("_")]
    assert not offenders


def test_no_private_name_is_imported_into_tests_or_experiment_scripts():
    offenders = [(str(p.relative_to(ROOT)), m, name) for p in SCRIPTS for m, names in imports(p) for name in names
                 if name.startswith("_")]
    assert not offenders


def string_literals(node: ast.AST) -> set[str]:
    """The strings a literal (or a tuple, list or set of literals) holds."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return set().union(*map(string_literals, node.elts))
    return set()


def is_kind(node: ast.AST) -> bool:
    """``x.kind`` (``model.kind``, ``m.kind``, ``problem.model.kind``, ...) or ``getattr(x, "kind", ...)``."""
    if isinstance(node, ast.Attribute):
        return node.attr == "kind"
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
            and len(node.args) >= 2 and string_literals(node.args[1]) == {"kind"})


def kind_comparisons(source: str) -> list[int]:
    """Lines of ``source`` where a ``kind`` is compared (``==``, ``!=``, ``in``, ``not in``) with a model kind."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare) and any(isinstance(op, (ast.Eq, ast.NotEq, ast.In, ast.NotIn))
                                                 for op in node.ops):
            operands = [node.left, *node.comparators]
            if any(map(is_kind, operands)) and any(string_literals(o) & set(MODEL_KINDS) for o in operands):
                lines.append(node.lineno)
    return lines


def test_the_kind_check_can_fail():
    assert kind_comparisons('if model.kind == "mlp":\n    pass') == [1]
    assert kind_comparisons('x = 1\nok = problem.model.kind != "resmlp"') == [2]
    assert kind_comparisons('ok = m.kind in ("mlp", "flax")\nok = "flax" == spec.kind') == [1, 2]
    assert kind_comparisons('ok = getattr(model, "kind", None) != "resmlp"') == [1]
    assert kind_comparisons('ok = prior.kind == "gaussian"\nok = m.kind\nok = kind == "mlp"') == []


def test_no_model_kind_is_compared_outside_spec_and_models():
    """Callers ask :func:`counting.models.architecture`, never compare ``model.kind`` themselves."""
    files = [p for p in sorted(PKG.rglob("*.py")) if not any(h in p.parents for h in ARCHITECTURE_HOMES)]
    offenders = [f"{p.relative_to(ROOT)}:{line}" for p in files + SCRIPTS for line in kind_comparisons(p.read_text())]
    assert not offenders


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n != "counting.cli"))
def test_every_module_has_a_runnable_example(name):
    doc = ast.get_docstring(ast.parse(MODULES[name].read_text())) or ""
    assert ">>>" in doc and "+SKIP" not in doc, f"{name}: no runnable example in the module docstring"
