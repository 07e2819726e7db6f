"""Interrupts: Ctrl-C (SIGINT) and SIGTERM stop a job at a safe point, never in the middle of a write.

:func:`install` (the command line calls it) takes both signals; the exit status is ``128 + signal
number`` (130 for SIGINT, 143 for SIGTERM). Inside a :func:`deferred` block (a counting loop) the
first signal only records a request; the loop calls :func:`check` at its safe points (after a step
is folded into the tally, after a replicate) once its checkpoint is saved, and that raises
:class:`Interrupted`. Anywhere else, and for a second signal, the job stops at once: the handler
never raises into whatever code it lands in (an exception raised inside a garbage-collector or
C++ callback of jax's would be swallowed or abort the process), it runs the clean-ups registered
with :func:`on_stop` (newest first: a temp file, a folder's lock), writes the one line that
:func:`install` was given and leaves with ``os._exit``. Every file is written atomically, so the
folder still holds the last whole checkpoint.

Without :func:`install` (a notebook, a script) nothing changes: Ctrl-C is Python's
``KeyboardInterrupt`` and :func:`check` never raises.

For tests, ``COUNTING_SIGNAL_AT=SIG@moment:n`` makes a job send itself ``SIG`` (``INT`` or ``TERM``)
once, at a chosen moment: ``start`` (before the first chunk), ``chunk:n`` (once chunk ``n`` or a
later one is folded in) or ``save:n`` (while writing the first checkpoint whose next chunk or
replicate is ``n`` or later).

Example:
    >>> import os, signal
    >>> restore = install()
    >>> with deferred():
    ...     os.kill(os.getpid(), signal.SIGTERM)   # recorded, not raised: the loop finishes its step
    ...     pending = requested()
    ...     try:
    ...         check()
    ...     except Interrupted as e:
    ...         code = e.exit_code
    >>> restore(); pending, code, requested()
    (True, 143, False)
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from typing import Callable, Iterator

SIGNAL_ENV = "COUNTING_SIGNAL_AT"
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
    """A job stopped by a signal (a ``BaseException``, like ``KeyboardInterrupt``, so that no
    ``except Exception`` swallows it)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


class _State:
    requested: int | None = None
    depth: int = 0
    fired: bool = False
    cleanups: list = []
    line: Callable[[Interrupted], str] | None = None


def _handler(signum, frame) -> None:
    if _State.depth and _State.requested is None:
        _State.requested = signum
        return
    stop_now(signum)


def stop_now(signum: int) -> None:
    """Run the registered clean-ups (newest first), write the stop line and leave with ``128 + signum``."""
    e = Interrupted(signum)
    for fn in reversed(list(_State.cleanups)):
        try:
            fn()
        except Exception:  # one clean-up failing must not keep the others or the exit from running
            pass
    try:
        line = _State.line(e) if _State.line is not None else f"counting: stopped by {e.name}"
    except Exception:
        line = f"counting: stopped by {e.name}"
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
        sys.stdout.flush()
    finally:
        os._exit(e.exit_code)


def install(line: Callable[[Interrupted], str] | None = None) -> Callable[[], None]:
    """Take SIGINT and SIGTERM (see the module's notes); ``line`` gives the one line printed when a
    signal stops the job at once. Returns a function restoring the old handlers."""
    old = {s: signal.signal(s, _handler) for s in _SIGNALS}
    _State.line = line

    def restore() -> None:
        for s, h in old.items():
            signal.signal(s, h)
        _State.requested = None
        _State.line = None

    return restore


@contextlib.contextmanager
def on_stop(fn: Callable[[], None]) -> Iterator[None]:
    """A block during which a signal that stops the job at once first calls ``fn`` (a clean-up that
    must not be skipped: a temp file's removal, a lock's release)."""
    _State.cleanups.append(fn)
    try:
        yield
    finally:
        _State.cleanups.remove(fn)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """A block in which the first signal is recorded for :func:`check` instead of stopping the job."""
    _State.depth += 1
    try:
        yield
    finally:
        _State.depth -= 1


def requested() -> bool:
    """Whether a stop has been asked for and not yet raised."""
    return _State.requested is not None


def check() -> None:
    """Raise :class:`Interrupted` if a signal arrived (call where the job's state is saved)."""
    if _State.requested is not None:
        signum, _State.requested = _State.requested, None
        raise Interrupted(signum)


def _planned() -> tuple[int, str, int] | None:
    value = os.environ.get(SIGNAL_ENV, "")
    if not value:
        return None
    try:
        sig, rest = value.split("@")
        moment, _, n = rest.partition(":")
        if moment not in ("start", "chunk", "save") or sig not in ("INT", "TERM"):
            raise ValueError
        return getattr(signal, f"SIG{sig}"), moment, int(n or 0)
    except ValueError:
        from counting.spec.errors import SpecError  # imported here: this module loads before the rest

        raise SpecError(SIGNAL_ENV, "SIG@moment[:n] with SIG INT or TERM and moment start, chunk or save",
                        value) from None


def fault(moment: str, n: int = 0) -> None:
    """Send this process the signal planned in ``COUNTING_SIGNAL_AT`` the first time ``moment`` comes
    with an index of at least the planned ``n``."""
    plan = _planned()
    if plan is not None and not _State.fired and plan[1] == moment and n >= plan[2]:
        _State.fired = True
        os.kill(os.getpid(), plan[0])
