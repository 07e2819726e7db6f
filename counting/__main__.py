"""``python -m counting`` is the ``counting`` command.

A signal that arrives while Python is still importing the command line (before
:func:`counting.cli.main` installs the job's handlers) gives the same one line and exit status as
one at start-up, not a traceback: a minimal handler is installed first, with nothing imported.

Example:
    >>> from counting.cli import build_parser
    >>> build_parser().parse_args(["report", "results/rare"]).command
    'report'
"""

import os
import signal
import sys


def _stopped_while_starting(signum: int, frame) -> None:
    """Nothing has been read or written yet: one line, and the status a shell gives the signal."""
    name = signal.Signals(signum).name
    sys.stderr.write(f"counting: stopped by {name} before anything was saved; nothing was written\n")
    sys.stderr.flush()
    os._exit(128 + signum)


if __name__ == "__main__":
    for _sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(_sig, _stopped_while_starting)
    from counting.cli import main

    raise SystemExit(main())
