"""Every notebook runs top to bottom on a small setting (``COUNTING_NOTEBOOK_SAMPLES``) with no error,
no warning and nothing on stderr, and is committed with the outputs of a clean run on the stored
results (``python notebooks/execute.py`` writes them)."""

import base64
import hashlib
import importlib.util
import io
import time
from pathlib import Path

import nbformat
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("notebooks_execute", ROOT / "notebooks" / "execute.py")
runner = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(runner)
NOTEBOOKS = runner.NOTEBOOKS


# each reruns its experiment small: 115 to 405 s each on two cores shared at a load of 12, 6.6 CPU-minutes
# for the four; CI runs them in the slow step
@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_small_without_errors_or_warnings(path):
    start = time.monotonic()
    nb = runner.execute(path, {"COUNTING_NOTEBOOK_SAMPLES": "16384"})
    assert not runner.complaints(nb), "\n".join(runner.complaints(nb))
    print(f"{path.name}: {time.monotonic() - start:.0f} s")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_committed_with_the_outputs_of_a_clean_run(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    counts = [c.get("execution_count") for c in code]
    assert counts == list(range(1, len(code) + 1)), (
        f"{path.name}: not run top to bottom once (write its outputs with `python notebooks/execute.py {path.stem}`)")
    assert not runner.complaints(nb), "\n".join(runner.complaints(nb))


def pixels(png: bytes) -> str:
    """A digest of an image's pixels (its metadata, such as the figures' stamps, left out)."""
    with Image.open(io.BytesIO(png)) as im:
        return hashlib.sha256(repr((im.mode, im.size)).encode() + im.tobytes()).hexdigest()


def test_every_image_a_notebook_shows_is_a_current_figure_under_results():
    figures = {pixels(p.read_bytes()) for p in (ROOT / "results").rglob("*.png")}
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        shown = [base64.b64decode(o["data"]["image/png"]) for c in nb.cells if c.cell_type == "code"
                 for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
        stale = [i for i, png in enumerate(shown) if pixels(png) not in figures]
        assert not stale, (f"{path.name}: images {stale} are not figures under results/ as they are now "
                           f"(run `python notebooks/execute.py {path.stem}`)")


def test_there_are_notebooks():
    assert {p.stem for p in NOTEBOOKS} >= {"depth", "llamaizer", "simplicity", "training"}
