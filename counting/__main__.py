"""``python -m counting`` is the ``counting`` command.

Example:
    >>> from counting.cli import build_parser
    >>> build_parser().parse_args(["report", "results/rare"]).command
    'report'
"""

from counting.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
