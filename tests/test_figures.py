"""Every figure under ``results/`` was drawn by the current figure code from its folder's stored tables.

Each PNG carries two digests in its metadata (:mod:`counting.experiments.base.redraw`): one of the
figure code, one of the tables (and the manifest's settings) it was drawn from. A figure whose
digests differ from what the code and tables here give is stale: ``counting report results
--figures`` draws every figure again from the stored tables. The last tests redraw one small folder
from its tables alone and check the stamp (and the command line) end to end.
"""

import functools
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import assert_usage_error, cli

from counting.experiments import figure_folders, figure_stamp, redraw_figures
from counting.experiments.base.redraw import CODE, INPUTS
from counting.io.figures import read_stamp
from counting.io.files import write_parquet

RESULTS = Path(__file__).resolve().parents[1] / "results"
PNGS = sorted(RESULTS.rglob("*.png"))
REDRAW = "counting report results --figures"


@functools.lru_cache(maxsize=None)
def expected(folder: Path) -> dict:
    return figure_stamp(folder)


def test_results_hold_figures():
    assert len(PNGS) >= 20 and len(figure_folders(RESULTS)) >= 8


@pytest.mark.parametrize("png", PNGS, ids=[str(p.relative_to(RESULTS)) for p in PNGS])
def test_figure_was_drawn_by_the_current_code_from_the_stored_tables(png):
    assert png.parent in figure_folders(RESULTS), f"{png}: not in an experiment's results folder with a manifest"
    stamp = read_stamp(png)
    assert stamp, f"{png} carries no stamp (drawn before figures were stamped): run `{REDRAW}`"
    want = expected(png.parent)
    assert stamp[CODE] == want[CODE], f"{png} was drawn by other figure code: run `{REDRAW}` and commit the figures"
    assert stamp[INPUTS] == want[INPUTS], (f"{png} was drawn from other tables than those beside it: run `{REDRAW}` "
                                           "(or the run that wrote the tables did not write its figures)")


@pytest.mark.parametrize("folder", figure_folders(RESULTS), ids=lambda p: str(p.relative_to(RESULTS)))
def test_every_figure_a_manifest_lists_is_there_and_no_other(folder):
    listed = {f for f in json.loads((folder / "manifest.json").read_text())["files"] if f.endswith(".png")}
    assert listed == {p.name for p in folder.glob("*.png")}


def small_copy(tmp_path: Path) -> Path:
    """``results/simplicity-7bit`` without its figure: the manifest and the tables."""
    src, dst = RESULTS / "simplicity-7bit", tmp_path / "simplicity-7bit"
    dst.mkdir()
    for f in src.iterdir():
        if f.suffix in (".json", ".parquet"):
            shutil.copy(f, dst / f.name)
    return dst


def test_a_figure_redrawn_from_the_stored_tables_alone_carries_the_committed_stamp(tmp_path):
    folder = small_copy(tmp_path)
    assert redraw_figures(folder) == (["reproduction.png"], [])
    assert read_stamp(folder / "reproduction.png") == read_stamp(RESULTS / "simplicity-7bit" / "reproduction.png")


def test_a_changed_table_makes_the_figure_stale(tmp_path):
    folder = small_copy(tmp_path)
    redraw_figures(folder)
    lz = pd.read_parquet(folder / "lz.parquet")
    write_parquet(folder / "lz.parquet", lz.assign(count=lz["count"] + 1))
    stamp = read_stamp(folder / "reproduction.png")
    assert stamp[CODE] == figure_stamp(folder)[CODE] and stamp[INPUTS] != figure_stamp(folder)[INPUTS]


@pytest.mark.slow  # two processes of the command line (about 30 s on two cores)
def test_report_figures_redraws_every_folder_under_a_path(tmp_path):
    small_copy(tmp_path)
    r = cli("report", tmp_path, "--figures")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"{tmp_path / 'simplicity-7bit'}/: reproduction.png"
    assert_usage_error(cli("report", tmp_path / "simplicity-7bit" / "nothing", "--figures"), "dir")
