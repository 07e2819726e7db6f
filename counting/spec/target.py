"""Target sections, resolved once at parse time to a truth table.

``[target]`` holds exactly one of ``truth_table`` (an integer, or hex such as ``"0xe8"``, no wider
than ``2**n`` bits) or ``name`` (see :func:`counting.boolean.tables.named_truth_table`).

Example:
    >>> t = parse_target({"name": "majority"}, 3)
    >>> t.truth_table, t.hex, t.name
    (232, '0xe8', 'majority')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from counting.boolean.tables import named_truth_table, to_hex
from counting.spec.errors import SpecError, check_keys


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


def parse_truth_table(value: Any, n_inputs: int, field: str = "target.truth_table") -> int:
    """An int, or a hex string such as ``"0xe8"``, no wider than ``2**n_inputs`` bits."""
    if isinstance(value, str):
        text = value.strip().lower().replace("_", "")
        try:
            tt = int(text, 16)
        except ValueError:
            raise SpecError(field, "a hex string such as '0xe8' or an integer", value) from None
    elif isinstance(value, int) and not isinstance(value, bool):
        tt = value
    else:
        raise SpecError(field, "a hex string such as '0xe8' or an integer", value)
    n_points = 2**n_inputs
    if tt < 0 or tt.bit_length() > n_points:
        raise SpecError(field, f"a truth table of at most 2**{n_inputs} = {n_points} bits", value)
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
