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


def test_readme_gives_the_defaults_a_spec_of_only_a_target_runs_with():
    from counting.spec import parse_spec

    spec = parse_spec('[target]\nname = "majority"\n', need_target=True)
    m, p, e = spec.model, spec.prior, spec.estimator
    assert (m.kind, m.n_inputs, m.widths, m.activation, m.inputs) == ("mlp", 3, (40, 40), "relu", "pm1")
    assert (p.kind, p.sigma_w, p.sigma_b) == ("gaussian", 1.0, 1.0)
    assert (e.kind, e.samples, e.seed, e.chunk_size) == ("mc", 100_000, 0, 16384)
    r = parse_spec('[model]\nkind = "resmlp"\nwidth = 24\n[target]\nname = "and"\n').model
    assert (r.width, r.depth, r.hidden) == (24, 2, 24)
    text = " ".join((ROOT / "README.md").read_text().split())
    assert ('`[model]` is a 3-40-40-1 relu MLP on `{-1,+1}^3` (`kind = "mlp"`, `n_inputs = 3`, `widths = [40, 40]`, '
            '`activation = "relu"`, `inputs = "pm1"`; `kind = "resmlp"` defaults to `width = 16`, `depth = 2`, '
            '`hidden` = `width`), `[prior]` is `gaussian` with `sigma_w = sigma_b = 1`, and `[estimator]` is `mc` '
            'with 100,000 samples, `seed = 0` and `chunk_size = 16384`') in text


def test_readme_llama_rare_costs_are_the_committed_tables_rounded():
    """Each SMC cost the README quotes from results/llama-rare, with its interval, is the table's
    value rounded as printed (2 decimals for the dictator, 1 for x3 xor x4)."""
    import pandas as pd

    text = " ".join((ROOT / "README.md").read_text().split())
    costs = pd.read_parquet(ROOT / "results" / "llama-rare" / "costs.parquet")
    rows = costs[costs.method == "smc"]
    assert len(rows) == 4
    for _, r in rows.iterrows():
        d = 2 if r.llama == "x2" else 1
        quoted = f"{r.cost_bits:.{d}f}", f"[{r.ci95_lo:.{d}f}, {r.ci95_hi:.{d}f}]"
        assert f"{quoted[0]} {quoted[1]}" in text or f"{quoted[0]} bits {quoted[1]}" in text, (r.llama, r.site, quoted)
