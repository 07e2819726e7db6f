"""``counting report``'s rendering of a results folder: every table, listed by a manifest or not,
and every subfolder holding a manifest of its own; every committed results folder renders."""

from pathlib import Path

import pandas as pd
import pytest

from counting.io.files import write_json, write_parquet
from counting.io.report import provenance, render

RESULTS = Path(__file__).resolve().parents[2] / "results"


def test_report_shows_every_table_of_a_folder_and_its_subfolders(tmp_path):
    write_parquet(tmp_path / "listed.parquet", pd.DataFrame({"a": [1]}))
    write_parquet(tmp_path / "unlisted.parquet", pd.DataFrame({"b": [2, 3]}))
    (tmp_path / "notes.md").write_text("x")
    write_json(tmp_path / "manifest.json", {"kind": "demo", "files": ["listed.parquet"],
                                            "command": "/tmp/x/cli.py run e.toml --out /tmp/o",
                                            "reproduce": "counting run e.toml --out results/e"})
    sub = tmp_path / "check"
    write_parquet(sub / "inner.parquet", pd.DataFrame({"c": [4]}))
    write_json(sub / "manifest.json", {"kind": "inner", "files": ["inner.parquet"]})
    (tmp_path / "scratch").mkdir()
    text = render(tmp_path)
    assert "listed.parquet (1 rows)" in text and "unlisted.parquet (2 rows)" in text and "|   b |" in text
    assert "reproduce: counting run e.toml --out results/e" in text.splitlines()[0]
    assert "also in this folder: notes.md, scratch/" in text
    assert "== check/ ==\ninner:" in text and "inner.parquet (1 rows)" in text


@pytest.mark.parametrize("folder", sorted(p.relative_to(RESULTS).as_posix() for p in RESULTS.rglob("*")
                                          if p.is_dir() and any(p.glob("*manifest*.json"))))
def test_every_table_of_every_committed_results_folder_is_reported(folder):
    text = render(RESULTS / folder, top=1)
    for table in sorted((RESULTS / folder).glob("*.parquet")):
        assert f"\n{table.name} (" in text, (folder, table.name)


def test_provenance_names_the_command_as_run_and_the_reproduce_command():
    line = provenance({"kind": "volume", "seed": 0, "command": "cli.py volume q.toml --out /tmp/o",
                       "reproduce": "counting volume q.toml"})
    assert line == "volume: seed 0, command: cli.py volume q.toml --out /tmp/o, reproduce: counting volume q.toml"
