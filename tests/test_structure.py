"""The package's shape: no import cycles (function-level imports included), no private names
imported across modules (nor into the tests and the experiment scripts), a runnable example in
every module's docstring, and architecture knowledge in one home: no ``model.kind`` compared with
a model kind outside ``counting/spec/`` and ``counting/models/``. Command-line flags belong to the
command line: no error raised outside ``counting/cli.py`` names one, and every option the library's
errors name has its flag in ``counting.cli.FLAGS``."""

import ast
import re
from pathlib import Path

import pytest

from counting.cli import FLAGS
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


FLAG = re.compile(r"(?<![\w-])--(?=[a-z{]|$)")  # "--out", "--{name}", or the "--" of f"--{name}"
MENTION = re.compile(r"\{([a-z][a-z_]*)\}")  # another option, in an OptionError's message
ERROR_CALLS = {"SpecError", "OptionError", "option_value", "integer", "number", "choice", "flag", "section",
               "check_keys", "kind_of"}  # the errors and the field checks of counting.spec.errors
NOT_OPTIONS = {"parts"}  # an OptionError's subject that no flag sets: the parts a job's processes wrote


def called(node: ast.AST) -> str | None:
    """The name a call's function goes by (``f`` of ``f(...)`` and of ``m.f(...)``)."""
    if isinstance(node, ast.Call):
        return node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
    return None


def flag_errors(source: str) -> list[int]:
    """Lines of ``source`` where an error raised, or a field check called, names a ``--flag``."""
    lines = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Raise) and node.exc is not None:
            parts = [node.exc]
        elif called(node) in ERROR_CALLS:
            parts = [*node.args, *(k.value for k in node.keywords)]
        else:
            continue
        if any(isinstance(n, ast.Constant) and isinstance(n.value, str) and FLAG.search(n.value)
               for part in parts for n in ast.walk(part)):
            lines.add(node.lineno)
    return sorted(lines)


def option_names(source: str) -> set[str]:
    """The options ``source``'s errors name: ``OptionError(NAME, ...)``, ``option_value(check, value,
    NAME)``, the ``{name}`` its messages mention, and ``option="NAME"`` (argument or default)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        literal = []
        if called(node) == "OptionError" and node.args:
            literal.append(node.args[0])
            names |= {m for part in node.args[1:2] for n in ast.walk(part)
                      if isinstance(n, ast.Constant) and isinstance(n.value, str) for m in MENTION.findall(n.value)}
        if called(node) == "option_value" and len(node.args) > 2:
            literal.append(node.args[2])
        if isinstance(node, ast.Call):
            literal += [k.value for k in node.keywords if k.arg == "option"]
        if isinstance(node, ast.FunctionDef):
            a = node.args
            literal += [d for arg, d in zip((a.posonlyargs + a.args)[::-1], a.defaults[::-1]) if arg.arg == "option"]
            literal += [d for arg, d in zip(a.kwonlyargs, a.kw_defaults) if arg.arg == "option" and d is not None]
        names |= {n.value for n in literal if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    return names


def test_the_flag_checks_can_fail():
    assert flag_errors('raise SpecError("--out", "a folder")\nx = integer(v, "--samples", 1)') == [1, 2]
    assert flag_errors('raise SpecError(f"--{name}", "x")\nraise ValueError("use --resume")') == [1, 2]
    assert flag_errors('raise OptionError("out", "a folder, or {resume} to go on")\nstyle = "--"\n'
                       'run(["counting", "--json"])') == []
    source = ('def hold(out, *, option="out"): pass\ndef f(p, option="work"): pass\n'
              'raise OptionError("index", f"from 0 to {n} ({{processes}} {n}), with {{coordinator}}")\n'
              'x = option_value(integer, v, "samples", 1)\nhold(w, option="dir")\nraise OptionError(name, "x")')
    assert option_names(source) == {"out", "work", "index", "processes", "coordinator", "samples", "dir"}


def test_no_error_outside_the_command_line_names_a_flag():
    """The library names its own options (``batch_size``, ``out``, ``resume``); the command line
    maps them to its flags when it prints the error."""
    files = [p for p in sorted(PKG.rglob("*.py")) if p != PKG / "cli.py"]
    offenders = [f"{p.relative_to(ROOT)}:{line}" for p in files for line in flag_errors(p.read_text())]
    assert not offenders


def test_every_option_the_library_names_has_a_flag():
    names = set().union(*(option_names(p.read_text()) for p in sorted(PKG.rglob("*.py")) if p != PKG / "cli.py"))
    assert {"out", "work", "resume", "batch_size", "processes", "index"} <= names  # the scan finds them
    assert not names - NOT_OPTIONS - set(FLAGS)
    assert all(f.startswith("--") for f in FLAGS.values())
