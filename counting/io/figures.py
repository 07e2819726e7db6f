"""Figures: seaborn/matplotlib on the Agg backend, written atomically as PNG, and what they share.

Every figure of the package is drawn from stored tables (and the run's settings as its manifest
records them) and is meant to be pasted as it is: a title naming the network, the prior and the
sample size (:func:`title`), axes labelled with their units, a legend under the panels
(:func:`legend_below`) and a caption under it (:func:`caption`), series told apart by colour *and* marker *and* line
style (:func:`series`: seaborn's colour-blind palette), at most three panels a row (:func:`panels`)
at a width that stays legible when shrunk to a page.

:func:`save` writes the PNG without a timestamp, so the same figure is the same file; inside
:func:`stamped` it also writes the given text fields into the PNG's metadata (what
:mod:`counting.experiments.base.redraw` records: digests of the figure code and of the tables it
was drawn from), which :func:`read_stamp` reads back.

Example:
    >>> import tempfile, pathlib
    >>> fig, ax = plt.subplots()
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "f.png"
    >>> with stamped({"Counting-Inputs": "abc"}):
    ...     save(fig, path)
    'f.png'
    >>> read_stamp(path)
    {'Counting-Inputs': 'abc'}
    >>> prior_text({"kind": "gaussian", "sigma_w": 1.0, "sigma_b": 1.0})
    'Gaussian prior (sigma_w = 1, sigma_b = 1)'
    >>> count_text(2097152), count_text(12_000_000)
    ('2,097,152', '12,000,000')
    >>> series(1)["marker"], len(PALETTE)
    ('s', 10)
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import io
import textwrap
from pathlib import Path
from typing import Iterator

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

from counting.io.files import atomic_write_bytes  # noqa: E402

DPI = 110
PAGE_WIDTH = 10.5  # inches: the widest figure (three panels a row), 1,155 pixels at DPI
PALETTE = sns.color_palette("colorblind")
MARKERS = ("o", "s", "D", "^", "v", "P", "X", "*", "<", ">")
LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1.5, 1, 1.5, 1, 1.5)), (0, (8, 2)), (0, (1, 3)), (0, (4, 1, 1, 1)))
# font sizes that stay readable when a 10.5-inch figure is shrunk to a page's width
STYLE = {"font.size": 10, "axes.titlesize": 10, "axes.labelsize": 10, "xtick.labelsize": 9, "ytick.labelsize": 9,
         "legend.fontsize": 9, "legend.title_fontsize": 9, "figure.titlesize": 11}

_STAMP: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("figure_stamp", default={})


def series(i: int) -> dict:
    """The ``i``-th series' colour, marker and line style (each cycles on its own: the first 8 series
    differ in all three)."""
    return {"color": PALETTE[i % len(PALETTE)], "marker": MARKERS[i % len(MARKERS)],
            "ls": LINESTYLES[i % len(LINESTYLES)]}


def styled(draw):
    """Draw a figure under :data:`STYLE` (the decorated function returns the figure)."""
    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        with plt.rc_context(STYLE):
            return draw(*args, **kwargs)
    return wrapper


def panels(n: int, cols: int = 3, width: float = PAGE_WIDTH, height: float = 3.3, **kwargs):
    """A figure of ``n`` panels, at most ``cols`` a row, ``width`` inches wide whatever the number of
    columns (each row ``height`` inches); returns it and the used axes as a flat list (the rest are
    hidden)."""
    n = max(n, 1)
    cols = max(1, min(cols, n))
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width, height * rows), squeeze=False, **kwargs)
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def title(fig, what: str, setting: str, width: int = 120) -> None:
    """Lay the panels out, then title the figure above them: ``what`` it shows, then the ``setting``
    (network, prior and sample size) wrapped to ``width`` characters."""
    fig.tight_layout()
    fig.suptitle(what + "\n" + textwrap.fill(setting, width), fontsize=10, y=1.0, va="bottom")


def legend_below(fig, handles, labels, ncol: int = 3, title_: str | None = None, y: float = 0.0) -> None:
    """A legend under the panels, so it covers no data."""
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, y), ncol=ncol, frameon=False,
               title=title_)


def caption(fig, text: str) -> None:
    """``text`` under everything drawn so far (the panels and any legend below them), wrapped to the
    figure's width; call it last."""
    fig.canvas.draw()  # the legends' extents, in the figure's final layout
    inverse = fig.transFigure.inverted()
    lows = [leg.get_window_extent().transformed(inverse).y0 for leg in fig.legends]
    lows += [ax.get_tightbbox().transformed(inverse).y0 for ax in fig.axes if ax.get_visible()]
    width = int(14.5 * fig.get_figwidth())  # characters a line at 8.5 points
    fig.text(0.01, min(lows + [0.0]) - 0.01, "\n".join(textwrap.fill(p, width) for p in text.split("\n")),
             ha="left", va="top", fontsize=8.5)


def prior_text(prior: dict | None) -> str:
    """A prior as a manifest records it (``kind``, ``sigma_w``, ``sigma_b`` or ``max_abs``), in words."""
    p = prior or {}
    kind = str(p.get("kind", "gaussian"))
    if kind in ("ternary", "integer"):
        m = int(p.get("max_abs", 1))
        return f"{kind} prior (every parameter uniform on the integers -{m}..{m})"
    name = "Gaussian" if kind == "gaussian" else kind
    return f"{name} prior (sigma_w = {float(p.get('sigma_w', 1.0)):g}, sigma_b = {float(p.get('sigma_b', 1.0)):g})"


def count_text(n) -> str:
    """A count with thousands separators (``'?'`` when unknown)."""
    try:
        return f"{int(n):,}"
    except (TypeError, ValueError):
        return "?"


def dodge(k: int, n: int, step: float) -> float:
    """The sideways shift of the ``k``-th of ``n`` series sharing an x position, centred on 0."""
    return (k - (n - 1) / 2) * step


@contextlib.contextmanager
def stamped(fields: dict[str, str]) -> Iterator[None]:
    """Inside this block :func:`save` writes ``fields`` (PNG text chunks) into every figure."""
    token = _STAMP.set(dict(fields))
    try:
        yield
    finally:
        _STAMP.reset(token)


def save(fig, path: Path) -> str:
    """Write ``fig`` as a PNG (no timestamp in its metadata; the :func:`stamped` fields), close it,
    return the file name."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None, **_STAMP.get()})
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return Path(path).name


def read_stamp(path: Path) -> dict[str, str]:
    """The ``Counting-*`` text fields of a PNG written by :func:`save`."""
    from PIL import Image

    with Image.open(path) as im:
        text = dict(getattr(im, "text", {}) or {})
    return {k: v for k, v in text.items() if k.startswith("Counting-")}
