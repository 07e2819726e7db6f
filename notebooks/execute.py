"""Run the notebooks top to bottom: in place on the stored results, or small, as CI does.

    python notebooks/execute.py                 # every notebook on results/, outputs written in place
    python notebooks/execute.py depth           # one notebook
    python notebooks/execute.py --small 16384   # rerun each experiment small (COUNTING_NOTEBOOK_SAMPLES),
                                                # write nothing, fail on any error, warning or stderr output

Each notebook runs in its own folder in a fresh kernel (over a local socket, no network port) and is
written without timing metadata, so running it again on the same results changes nothing. A run on
the stored results also fails on an error, a warning or stderr output, and then writes nothing.
``tests/notebooks/test_notebooks.py`` runs the small setting and checks the committed outputs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from jupyter_client import KernelManager
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
NOTEBOOKS = sorted(HERE.glob("*.ipynb"))


def execute(path: Path, env: dict[str, str] | None = None, timeout: int = 1200) -> nbformat.NotebookNode:
    """The notebook at ``path`` run top to bottom in its folder, ``env`` added to the kernel's environment."""
    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory() as sockets:
        km = KernelManager(kernel_name="python3", transport="ipc", ip=os.path.join(sockets, "kernel"))
        client = NotebookClient(nb, km=km, timeout=timeout, record_timing=False,
                                resources={"metadata": {"path": str(path.parent)}})
        try:
            base = {k: v for k, v in os.environ.items() if k != "COUNTING_NOTEBOOK_SAMPLES"}
            client.execute(env={**base, "JAX_PLATFORMS": "cpu", **(env or {})})
        finally:
            if km.has_kernel:
                km.shutdown_kernel(now=False)
    return nb


def complaints(nb: nbformat.NotebookNode) -> list[str]:
    """Every error, stderr stream (where warnings go) or warning text among the notebook's outputs."""
    found = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.output_type == "error":
                found.append(f"cell {i}: {out.ename}: {out.evalue}")
            elif out.output_type == "stream" and (out.name == "stderr" or "Warning" in out.text):
                found.append(f"cell {i} ({out.name}): {out.text.strip()[:500]}")
    return found


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", help="notebooks by name (default: every one)")
    p.add_argument("--small", type=int, metavar="N", help="rerun each experiment with N networks; write nothing")
    args = p.parse_args(argv)
    paths = [HERE / f"{Path(n).stem}.ipynb" for n in args.names] or NOTEBOOKS
    env = {"COUNTING_NOTEBOOK_SAMPLES": str(args.small)} if args.small else {}
    failed = False
    for path in paths:
        start = time.monotonic()
        nb = execute(path, env)
        bad = complaints(nb)
        print(f"{path.name}: {time.monotonic() - start:.0f} s" + ("" if not bad else ", " + "; ".join(bad)))
        failed |= bool(bad)
        if not bad and not args.small:
            nbformat.write(nb, path)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
