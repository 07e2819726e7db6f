"""Target sections, resolved once at parse time to a truth table.

``[target]`` holds exactly one of ``name`` (see :func:`counting.boolean.tables.named_truth_table`)
or ``truth_table``, a function on the ``n``-bit cube written in exactly one of two forms
(:func:`parse_truth_table`, the one parser of truth tables in user input):

* ``"0x"`` and exactly ``ceil(2**n / 4)`` hex digits, the form
  :func:`counting.boolean.tables.to_hex` prints: bit ``i`` of the number is ``f`` on point ``i``
  (``"0xe8"`` is 3-bit majority; for ``n = 1`` the single digit is below 4; a 5-input table has 8
  digits). Case-insensitive; ``_`` may separate digits and is not counted.
* a list of the points where ``f`` is 1: distinct integers ``0 <= x < 2**n``, where bit ``j`` of
  ``x`` is input ``x_j`` (:mod:`counting.boolean.cube`); ``[]`` is the constant 0.

Anything else (an integer, hex without ``0x``, too few or too many digits, a point out of range or
repeated) is a one-line :class:`~counting.spec.errors.SpecError` naming both forms.

Example:
    >>> t = parse_target({"name": "majority"}, 3)
    >>> t.truth_table, t.hex, t.name
    (232, '0xe8', 'majority')
    >>> parse_truth_table("0xE8", 3) == parse_truth_table([3, 5, 6, 7], 3) == 0xe8
    True
    >>> parse_truth_table("0xe8", 7)
    Traceback (most recent call last):
    ...
    counting.spec.errors.SpecError: target.truth_table: expected a '0x' string of exactly 32 hex digits for n_inputs = 7 or a list of the points where f is 1 (distinct integers 0 <= x < 128), got '0xe8'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from counting.boolean.tables import hex_digits, named_truth_table, to_hex
from counting.spec.errors import SpecError, check_keys

HEX = re.compile(r"0[xX]([0-9a-fA-F]+(?:_[0-9a-fA-F]+)*)")  # '_' only between digits
MAX_EXAMPLE_DIGITS = 16  # longer tables get no "such as" example in the error


@dataclass(frozen=True)
class Target:
    """A function on the ``n_inputs``-cube: its truth table, and the name it was given (if any)."""

    truth_table: int
    n_inputs: int
    name: str | None = None

    @property
    def hex(self) -> str:
        return to_hex(self.truth_table, self.n_inputs)

    def to_dict(self) -> dict:
        return {"truth_table": self.hex, **({"name": self.name} if self.name is not None else {})}


def truth_table_forms(n_inputs: int) -> str:
    """What a truth table on ``n_inputs`` bits may be, as the ``expected`` part of an error."""
    d, points = hex_digits(n_inputs), 2**n_inputs
    below = f" below {1 << points}" if points < 4 else ""
    example = (f" (such as '{to_hex(named_truth_table('majority', n_inputs), n_inputs)}')"
               if d <= MAX_EXAMPLE_DIGITS else "")
    return (f"a '0x' string of exactly {d} hex digit{'s' if d > 1 else ''}{below} for n_inputs = {n_inputs}"
            f"{example} or a list of the points where f is 1 (distinct integers 0 <= x < {points})")


def from_hex(text: str, n_inputs: int) -> int | None:
    """The table written as ``'0x'`` and exactly :func:`~counting.boolean.tables.hex_digits` digits,
    or ``None`` when ``text`` is not one."""
    m = HEX.fullmatch(text)
    digits = m.group(1).replace("_", "") if m else ""
    if len(digits) != hex_digits(n_inputs):
        return None
    tt = int(digits, 16)
    return tt if tt < 1 << 2**n_inputs else None


def from_points(points: list, n_inputs: int) -> int | None:
    """The table that is 1 exactly on ``points`` (distinct integers ``0 <= x < 2**n``), or ``None``."""
    ok = all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x < 2**n_inputs for x in points)
    if not ok or len(set(points)) != len(points):
        return None
    return sum(1 << x for x in points)


def parse_truth_table(value: Any, n_inputs: int, field: str = "target.truth_table") -> int:
    """A truth table on ``n_inputs`` bits from its hex string or its list of points (module docstring)."""
    if isinstance(value, str):
        tt = from_hex(value, n_inputs)
    elif isinstance(value, list):
        tt = from_points(value, n_inputs)
    else:
        tt = None
    if tt is None:
        raise SpecError(field, truth_table_forms(n_inputs), value)
    return tt


def parse_target(t: dict, n_inputs: int, where: str = "target") -> Target:
    """Validate a ``[target]`` table and resolve it to a truth table."""
    check_keys(t, {"truth_table", "name"}, where)
    if ("truth_table" in t) == ("name" in t):
        raise SpecError(where, "exactly one of 'truth_table' or 'name'")
    if "name" in t:
        name = t["name"]
        try:
            return Target(named_truth_table(name, n_inputs), n_inputs, name)
        except ValueError as e:
            raise SpecError(f"{where}.name", str(e), name) from None
    return Target(parse_truth_table(t["truth_table"], n_inputs, f"{where}.truth_table"), n_inputs)
