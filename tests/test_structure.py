"""The package's shape: no import cycles (function-level imports included), no private names
imported across modules, and a runnable example in every module's docstring."""

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "counting"


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


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n != "counting.cli"))
def test_every_module_has_a_runnable_example(name):
    doc = ast.get_docstring(ast.parse(MODULES[name].read_text())) or ""
    assert ">>>" in doc and "+SKIP" not in doc, f"{name}: no runnable example in the module docstring"
