"""Figures: seaborn/matplotlib on the Agg backend, written atomically as PNG.

Example:
    >>> import tempfile, pathlib
    >>> fig, ax = plt.subplots()
    >>> save(fig, pathlib.Path(tempfile.mkdtemp()) / "f.png")
    'f.png'
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from counting.io.files import atomic_write_bytes  # noqa: E402


def save(fig, path: Path) -> str:
    """Write ``fig`` as a PNG (no timestamp in its metadata), close it, return the file name."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return Path(path).name
