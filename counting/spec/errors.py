"""One-line errors for bad input, and the small field checks every parser shares.

A :class:`SpecError` names the field and what was expected, in one line, so the command line can
print it as ``counting: error: FIELD: expected ...`` and exit with status 2 before any work.

An :class:`OptionError` is a :class:`SpecError` about an option of a library call rather than a
spec field: ``RunOptions.batch_size``, the ``out`` or ``work`` folder, ``resume``, a process's
``index``. It names the option as the library does; a caller that sets the option under another
name (the command line, by its flags) prints :meth:`OptionError.line` with its own names. Other
options its message mentions are written ``{name}`` in ``expected``, so they are renamed too.

Example:
    >>> str(SpecError("model.widths[0]", "an integer >= 1", 0))
    'model.widths[0]: expected an integer >= 1, got 0'
    >>> integer(5, "estimator.samples", lo=1)
    5
    >>> e = OptionError("out", "a folder without an unfinished job, or {resume} to continue it", "runs/q")
    >>> str(e)
    "out: expected a folder without an unfinished job, or resume to continue it, got 'runs/q'"
    >>> e.line({"out": "--out", "resume": "--resume"})
    "--out: expected a folder without an unfinished job, or --resume to continue it, got 'runs/q'"
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
from typing import Any, Callable, Mapping

_MENTION = re.compile(r"\{([a-z][a-z_]*)\}")  # another option named in an OptionError's message


def _message(field: str, expected: str, got: Any) -> str:
    msg = f"{field}: expected {expected}"
    if got is not dataclasses.MISSING:
        msg += f", got {got!r}"
    return msg


class SpecError(ValueError):
    """A field is missing, unknown or out of range. ``str(err)`` is one line."""

    def __init__(self, field: str, expected: str, got: Any = dataclasses.MISSING):
        super().__init__(_message(field, expected, got))
        self.field = field
        self.expected = expected


class OptionError(SpecError):
    """An option of a library call is unusable; ``option`` is the library's name for it (a keyword
    such as ``batch_size``, ``out``, ``resume``). ``expected`` writes any other option it mentions
    as ``{name}``. ``str(err)`` is one line naming every option as the library does, and
    :meth:`line` the same line with the names a caller gives them (a name it lacks stays as is)."""

    def __init__(self, option: str, expected: str, got: Any = dataclasses.MISSING):
        self.option = option
        self.template = expected
        self.got = got
        super().__init__(option, _MENTION.sub(r"\1", expected), got)

    def line(self, names: Mapping[str, str]) -> str:
        """The one-line message with each option called ``names.get(option, option)``."""
        name: Callable[[str], str] = lambda o: names.get(o, o)
        return _message(name(self.option), _MENTION.sub(lambda m: name(m[1]), self.template), self.got)


def option_value(check: Callable[..., Any], value: Any, option: str, *args: Any, **kwargs: Any) -> Any:
    """``check(value, option, ...)``, one of the field checks below applied to a library call's
    option, its error an :class:`OptionError` naming that option."""
    try:
        return check(value, option, *args, **kwargs)
    except SpecError as e:
        raise OptionError(option, e.expected, value) from None


def check_keys(table: dict, allowed: set[str] | frozenset[str], where: str, what: str = "") -> None:
    """Every key of ``table`` is one of ``allowed`` (``what`` says for which kind, if any); an unknown
    key close to a known one (a typo) is named in the error.

    >>> check_keys({"widht": [4]}, {"widths", "n_inputs"}, "model")
    Traceback (most recent call last):
    ...
    counting.spec.errors.SpecError: model.widht: expected one of the known keys ['n_inputs', 'widths'] (did you mean 'widths'?), got 'unknown key'
    """
    for k in table:
        if k not in allowed:
            close = difflib.get_close_matches(str(k), sorted(map(str, allowed)), n=1, cutoff=0.7)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise SpecError(f"{where}.{k}", f"one of the known keys{what} {sorted(allowed)}{hint}", "unknown key")


def section(value: Any, field: str) -> dict:
    """A TOML table."""
    if not isinstance(value, dict):
        raise SpecError(field, "a TOML table", value)
    return value


def integer(value: Any, field: str, lo: int | None = None, hi: int | None = None) -> int:
    """An integer (not a bool) within ``[lo, hi]``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(field, "an integer", value)
    if lo is not None and value < lo:
        raise SpecError(field, f"an integer >= {lo}", value)
    if hi is not None and value > hi:
        raise SpecError(field, f"an integer <= {hi}", value)
    return value


def number(value: Any, field: str, positive: bool = True) -> float:
    """A finite number, > 0 if ``positive`` else >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(field, "a number", value)
    if not math.isfinite(value) or (value <= 0 if positive else value < 0):
        raise SpecError(field, "a finite number " + ("> 0" if positive else ">= 0"), value)
    return float(value)


def choice(value: Any, field: str, options: tuple[str, ...]) -> str:
    """One of ``options``."""
    if value not in options:
        raise SpecError(field, f"one of {list(options)}", value)
    return value


def flag(value: Any, field: str) -> bool:
    """A TOML boolean."""
    if not isinstance(value, bool):
        raise SpecError(field, "true or false", value)
    return value


def kind_of(table: dict, field: str, kinds: tuple[str, ...], default: str | None) -> str:
    """The ``kind`` of a tagged section (``default`` when absent; ``None``: required)."""
    if "kind" not in table and default is None:
        raise SpecError(f"{field}.kind", f"one of {list(kinds)}")
    return choice(table.get("kind", default), f"{field}.kind", kinds)
