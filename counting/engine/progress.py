"""Progress of a long job: a bar on a terminal or in a notebook, plain lines in a log, a forecast.

:class:`Progress` shows a ``tqdm.auto`` bar when stderr is a terminal or the job runs in a
notebook, and otherwise (a batch job whose stderr is a log file) writes one plain line every
``every`` seconds: done, total, rate and the time left. In every mode it writes one forecast line
once the rate is known from a warm-up (from the first update on, so compilation does not count;
written once three more updates or five seconds have passed, so that a pass whose first steps
are short ones has grown its steps) when the whole job would take longer than
``forecast_seconds``: ``samples = 10**13`` on a CPU says it would take years before it has spent a
minute. Where the work done differs from what is counted
(a network drawn but not counted, such as the rest of a last chunk a tally takes whole), the
caller gives the work too (``total_work``, ``update(n, work=...)``) and the time left follows it.

Example:
    >>> import io
    >>> log = io.StringIO()
    >>> with Progress(1000, desc="volume", mode="lines", every=0.0, stream=log) as p:
    ...     p.update(400); p.update(600)
    >>> print(log.getvalue().splitlines()[-1])  # doctest: +ELLIPSIS
    counting: volume 1,000/1,000 networks (100.0%), ... networks/s, 0 s left
    >>> duration(3 * 365 * 86400.0)
    '3.0 years'
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tqdm.auto import tqdm

MODES = ("bar", "lines", "off")


def duration(seconds: float) -> str:
    """A duration in the largest unit that keeps it above 1 (``'42 s'``, ``'3.5 h'``, ``'2.0 years'``)."""
    for unit, size in (("years", 365.25 * 86400), ("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def default_mode(progress: bool | None) -> str:
    """``True``: a bar; ``False``: nothing; ``None``: a bar on a terminal or in a notebook, else lines."""
    if progress is not None:
        return "bar" if progress else "off"
    interactive = sys.stderr.isatty() or "ipykernel" in sys.modules
    return "bar" if interactive else "lines"


class Progress:
    """Progress over ``total`` units, starting at ``initial`` (a resumed job)."""

    def __init__(self, total: int, initial: int = 0, *, desc: str = "", unit: str = "networks",
                 mode: str = "lines", every: float = 30.0, forecast_seconds: float = 60.0,
                 stream: TextIO | None = None, total_work: int | None = None, initial_work: int | None = None):
        if mode not in MODES:
            raise ValueError(f"mode: expected one of {MODES}, got {mode!r}")
        self.total, self.done, self.start_done = total, initial, initial
        # the work (default: the units counted), which the time left follows
        self.total_work = total if total_work is None else total_work
        self.work = self.start_work = initial if initial_work is None else initial_work
        self.desc, self.unit, self.mode, self.every = desc, unit, mode, every
        self.forecast_seconds, self.stream = forecast_seconds, stream
        self.t0 = self.last = time.perf_counter()
        self.warm: tuple[float, int, int] | None = None  # time, count and work at the first update
        self.forecast_done = False
        self.updates = 0
        self.bar = (tqdm(total=total, initial=initial, unit=unit[:3], unit_scale=True, desc=desc, leave=False)
                    if mode == "bar" else None)

    def _write(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line, file=self.stream or sys.stderr)
        else:
            out = self.stream or sys.stderr
            out.write(line + "\n")
            out.flush()

    def _rate(self, now: float) -> float:
        """Units counted per second, from the first update on (compilation and warm-up excluded)."""
        if self.warm is not None and now > self.warm[0] and self.done > self.warm[1]:
            return (self.done - self.warm[1]) / (now - self.warm[0])
        return (self.done - self.start_done) / max(now - self.t0, 1e-9)

    def _left(self, now: float) -> float:
        """Seconds left at the rate of work since the first update."""
        if self.warm is not None and now > self.warm[0] and self.work > self.warm[2]:
            rate = (self.work - self.warm[2]) / (now - self.warm[0])
        else:
            rate = (self.work - self.start_work) / max(now - self.t0, 1e-9)
        return max(self.total_work - self.work, 0) / max(rate, 1e-12)

    def update(self, n: int, work: int | None = None) -> None:
        """``n`` more units done (``work``: the work they took, default ``n``)."""
        now = time.perf_counter()
        self.done += n
        self.work += n if work is None else work
        if self.bar is not None:
            self.bar.update(n)
        self.updates += 1
        if self.warm is None:
            self.warm = (now, self.done, self.work)
        elif not self.forecast_done and (self.updates > 3 or now - self.warm[0] >= 5.0):
            self.forecast_done = True
            rate = self._rate(now)
            left = self._left(now)
            if now - self.t0 + left > self.forecast_seconds:
                self._write(f"counting: {self.desc} expected to take about {duration(now - self.t0 + left)} "
                            f"({self.total:,} {self.unit} at {rate:.3g} {self.unit}/s, measured on the first "
                            f"{self.done - self.start_done:,})")
        if self.mode == "lines" and now - self.last >= self.every:
            self.last = now
            rate = self._rate(now)
            left = self._left(now)
            self._write(f"counting: {self.desc} {self.done:,}/{self.total:,} {self.unit} "
                        f"({100 * self.done / max(self.total, 1):.1f}%), {rate:.3g} {self.unit}/s, "
                        f"{duration(left)} left")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
