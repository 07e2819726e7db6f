"""Experiment files: TOML text in, plain dicts out, and the small checks every experiment repeats.

An experiment file has an ``[experiment]`` table whose ``kind`` (default ``"llamaizer"``) picks the
experiment, plus the tables and ``[[table]]`` lists that kind reads. Every failure is a one-line
:class:`~counting.spec.errors.SpecError` naming the field.

Example:
    >>> d = read_toml('[experiment]\\nkind = "llamaizer"\\n[[target]]\\nname = "a"\\n[[target]]\\nname = "b"')
    >>> [t["name"] for t in table_list(d, "target")]
    ['a', 'b']
    >>> unique(["a", "a"], "target.name")
    Traceback (most recent call last):
    ...
    counting.spec.errors.SpecError: target.name: expected distinct names, got ['a', 'a']
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tomllib
from pathlib import Path

from counting.spec.errors import SpecError, choice, integer, section

DEFAULT_KIND = "llamaizer"
MAX_CHUNKS = 2**32  # chunk ids are uint32 fold_in data: a pass has at most this many chunks


def read_toml(text: str) -> dict:
    """Parse TOML text; malformed TOML is a one-line :class:`SpecError` too."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SpecError("toml", f"well-formed TOML ({e})") from None


def read_file(path: str | Path) -> str:
    """The text of an experiment file (an unreadable file is a :class:`SpecError`)."""
    p = Path(path)
    try:
        return p.read_text()
    except OSError as e:
        raise SpecError("experiment", f"a readable TOML file ({e.strerror})", str(p)) from None


def experiment_table(d: dict) -> dict:
    """The ``[experiment]`` table (empty when absent)."""
    return section(d.get("experiment", {}), "experiment")


def experiment_kind(d: dict, kinds: tuple[str, ...] | list[str], default: str = DEFAULT_KIND) -> str:
    """The ``[experiment] kind``, one of ``kinds``."""
    return choice(experiment_table(d).get("kind", default), "experiment.kind", tuple(kinds))


def table_list(d: dict, key: str) -> list[dict]:
    """A non-empty ``[[key]]`` list of tables."""
    v = d.get(key, [])
    if not isinstance(v, list) or not v or not all(isinstance(t, dict) for t in v):
        raise SpecError(key, f"one or more [[{key}]] tables")
    return v


def unique(names: list[str], field: str) -> None:
    """Names that must be distinct (they key tables, files and folders)."""
    if len(set(names)) != len(names):
        raise SpecError(field, "distinct names", names)


def distinct_ints(v, where: str, lo: int, hi: int) -> tuple[int, ...]:
    """A non-empty list of distinct integers in ``lo..hi`` (depths, widths, bit counts, ...)."""
    if not isinstance(v, list) or not v:
        raise SpecError(where, f"a non-empty list of integers in {lo}..{hi}", v)
    out = tuple(integer(x, f"{where}[{i}]", lo, hi) for i, x in enumerate(v))
    if len(set(out)) != len(out):
        raise SpecError(where, "distinct values", v)
    return out


def name_list(v, where: str, allowed: tuple[str, ...], empty: bool = False) -> tuple[str, ...]:
    """A list of distinct names among ``allowed`` (non-empty unless ``empty``)."""
    if not isinstance(v, list) or (not v and not empty):
        raise SpecError(where, f"a list of names among {list(allowed)}", v)
    out = tuple(choice(x, f"{where}[{i}]", allowed) for i, x in enumerate(v))
    unique(list(out), where)
    return out


def config_digest(config) -> str:
    """A short hash of a whole config dataclass: part of each pass's checkpoint identity."""
    d = dataclasses.asdict(config)
    return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]
