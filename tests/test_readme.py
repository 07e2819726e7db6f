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
