"""The README opens with the two set-up commands, and CI runs the second one verbatim."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def setup_commands() -> list[str]:
    text = (ROOT / "README.md").read_text().splitlines()
    start = text.index("```bash")
    end = text.index("```", start + 1)
    return [line for line in text[start + 1 : end] if line.strip()]


def test_readme_starts_with_two_setup_commands():
    cmds = setup_commands()
    assert len(cmds) == 2
    assert "counting volume" in cmds[0] and "pytest" in cmds[1]


def test_ci_runs_the_readme_test_command_verbatim():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert setup_commands()[1] in ci


def _flags(parser) -> set[str]:
    return {o for a in parser._actions for o in a.option_strings if o.startswith("--") and o != "--help"}


def _subparsers():
    import argparse

    from counting.cli import build_parser

    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


def test_readme_options_agree_with_the_command_line():
    """The options the README lists for volume/census and for run are exactly those the parsers take."""
    import re

    text = (ROOT / "README.md").read_text()
    start = text.index("Options of `volume` and `census`")
    middle = text.index("`run` takes", start)
    end = text.index("`counting COMMAND --help`", middle)
    job = set(re.findall(r"`(--[a-z-]+)", text[start:middle]))
    run_part = text[middle:end]
    run_has = set(re.findall(r"`(--[a-z-]+)", run_part.split("but no")[0]))
    run_lacks = set(re.findall(r"`(--[a-z-]+)", run_part.split("but no")[1]))
    subs = _subparsers()
    census_only = {"--top", "--census-memory"}
    assert job == _flags(subs["census"]) and job - census_only == _flags(subs["volume"])
    assert run_has == _flags(subs["run"])
    assert run_lacks and not run_lacks & _flags(subs["run"]) and run_lacks <= job


def test_readme_lists_every_activation_and_every_command_has_an_example():
    from counting.spec.model import ACTIVATIONS

    text = (ROOT / "README.md").read_text()
    line = next(ln for ln in text.splitlines() if ln.startswith('activation = "relu"'))
    assert [a.strip(' "') for a in line.split("#")[1].split("|")] == list(ACTIVATIONS)
    for name, parser in _subparsers().items():
        assert f"counting {name} " in parser.format_help().split("examples:")[1], name
