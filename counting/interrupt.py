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

"At once" holds while the main thread waits on a device or compiles: Python runs a signal handler
only between bytecodes of the main thread, so :func:`install` also sets a wake-up file
(``signal.set_wakeup_fd``) that a small thread reads; that thread records the first signal and
stops the job on a second one even while the main thread is inside a long call into jax. The
Python-level handler only waits until that thread has seen the signal, so a signal a process sends
itself is recorded before the next line of the sender runs.

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
import select
import signal
import sys
import threading
import time
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
    watcher: "_Watcher | None" = None
    stopping = threading.Lock()  # held by the one thread that runs stop_now's clean-ups and exits


def _take(signum: int) -> None:
    """One signal: recorded for :func:`check` inside a loop when none is pending, else the job stops."""
    if _State.depth and _State.requested is None:
        _State.requested = signum
        return
    stop_now(signum)


class _Watcher:
    """Reads the signal numbers that Python's C-level handler writes to the wake-up file, in a thread
    of its own, so that a signal takes effect while the main thread is inside a long call."""

    def __init__(self) -> None:
        self.read, self.write = os.pipe()
        os.set_blocking(self.write, False)
        self.busy = threading.Lock()  # held while a signal read is being acted on
        self.old_fd = signal.set_wakeup_fd(self.write, warn_on_full_buffer=False)
        self.thread = threading.Thread(target=self._run, name="counting-signals", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            try:
                select.select([self.read], [], [])
                with self.busy:  # read under the lock: sync() sees the pipe empty only once it is acted on
                    data = os.read(self.read, 64)
                    if not data or 0 in data:  # the pipe closed, or close()'s sentinel
                        return
                    for signum in data:
                        if signum in _SIGNALS:
                            _take(signum)
            except OSError:
                return

    def sync(self, timeout: float = 1.0) -> None:
        """Wait (at most ``timeout`` s) until every signal written to the pipe so far has been acted on."""
        end = time.monotonic() + timeout
        while select.select([self.read], [], [], 0)[0] and time.monotonic() < end:
            time.sleep(0.001)
        with self.busy:  # the thread may hold what it read: wait until it has acted on it
            pass

    def close(self) -> None:
        signal.set_wakeup_fd(self.old_fd)
        try:
            os.write(self.write, b"\0")
        except OSError:
            pass
        self.thread.join(timeout=1.0)
        os.close(self.write)
        os.close(self.read)


def _handler(signum, frame) -> None:
    if _State.watcher is not None:  # the watcher thread acts on it; wait until it has
        _State.watcher.sync()
        return
    _take(signum)


def stop_now(signum: int) -> None:
    """Run the registered clean-ups (newest first), write the stop line and leave with ``128 + signum``
    (from any thread; a second caller waits for the first one's exit)."""
    if not _State.stopping.acquire(blocking=False):
        while True:  # another thread is already stopping the job: it leaves with the process
            time.sleep(1.0)
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
    watcher = _State.watcher = _Watcher()

    def restore() -> None:
        for s, h in old.items():
            signal.signal(s, h)
        if watcher is not None:
            _State.watcher = None
            watcher.close()
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
