"""Memory before running: what a compiled step needs on each device, and what the devices have.

The need is XLA's own account of the compiled step (arguments, outputs and temporaries, per
device), so it follows the model, the batch and the estimator without a hand-written formula. What
a device has is its allocator's free bytes on an accelerator, and the host's available memory
shared among the CPU devices of this process on the CPU. :func:`fit_batch` picks the batch size:
the requested one if it fits (an explicit ``batch_size`` that does not fit is a one-line error),
otherwise the largest divisor of the chunk size that does, and a network too large to fit even one
at a time is refused before any work.

Example:
    >>> human_bytes(3 * 2**30), human_bytes(1536)
    ('3.0 GiB', '1.5 KiB')
    >>> need = lambda b: 1000 + 100 * b          # bytes for a batch of b networks
    >>> fit_batch(need, chunk_size=64, block=64, available=5000, explicit=False)
    32
"""

from __future__ import annotations

import math
import os
from typing import Callable, Sequence

from counting.spec.errors import OptionError, SpecError

HEADROOM = 0.9  # use at most this share of what a device reports free


def human_bytes(n: float) -> str:
    """Bytes in binary units (``'3.0 GiB'``)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def host_available_bytes() -> int | None:
    """Host memory available now (``MemAvailable``; ``None``: unknown)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def available_bytes(devices: Sequence) -> int | None:
    """Bytes one of ``devices`` may use (``None``: unknown, no check)."""
    dev = devices[0]
    stats = dev.memory_stats() if hasattr(dev, "memory_stats") else None
    if stats and "bytes_limit" in stats:
        return int(HEADROOM * (stats["bytes_limit"] - stats.get("bytes_in_use", 0)))
    if dev.platform == "cpu":
        host = host_available_bytes()
        local = sum(1 for d in devices if d.platform == "cpu")
        return None if host is None else int(HEADROOM * host / max(local, 1))
    return None


def compiled_bytes(compiled) -> int | None:
    """Per-device bytes of a compiled computation (arguments, outputs and temporaries)."""
    try:
        m = compiled.memory_analysis()
    except (AttributeError, NotImplementedError, RuntimeError):
        return None
    if m is None:
        return None
    return int(m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes - m.alias_size_in_bytes)


def check_floor(least: int, available: int | None, model: str = "this model", field: str = "model",
                what: str = "its parameters alone") -> None:
    """Refuse a job whose smallest step needs ``least`` bytes when a device has ``available``."""
    if available is not None and least > available:
        raise SpecError(field, f"a job small enough to fit in the {human_bytes(available)} a device has "
                        f"({what} need {human_bytes(least)})", model)


def fit_batch(need: Callable[[int], int | None], chunk_size: int, block: int, available: int | None,
              explicit: bool, model: str = "this model") -> int:
    """The batch size to run: ``block`` if ``need(block)`` bytes fit in ``available``, else the largest
    divisor of ``chunk_size`` that fits (``explicit``: the user chose ``block``, so refuse instead)."""
    if available is None:
        return block
    tried: dict[int, int | None] = {}

    def bytes_for(b: int) -> int | None:
        if b not in tried:
            tried[b] = need(b)
        return tried[b]

    n = bytes_for(block)
    if n is None or n <= available:
        return block
    if explicit:
        raise OptionError("batch_size", f"a batch that fits in the {human_bytes(available)} a device has "
                          f"(this one needs {human_bytes(n)})", block)
    while block > 1:
        # the need grows about linearly in the batch: jump to the largest divisor that should fit
        one = bytes_for(1)
        per_net = (n - one) / max(block - 1, 1) if one is not None else n / block
        guess = max(1, min(block - 1, math.floor((available - (one or 0)) / max(per_net, 1)) + 1))
        block = max(d for d in range(1, guess + 1) if chunk_size % d == 0)
        n = bytes_for(block)
        if n is None or n <= available:
            return block
    raise SpecError("model", f"a network small enough that a batch of one fits in the {human_bytes(available)} "
                    f"a device has (one needs {human_bytes(n)})", model)
