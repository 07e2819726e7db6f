"""Experiment files: TOML text in, plain dicts out, and the small checks every experiment repeats.

An experiment file has an ``[experiment]`` table whose ``kind`` (default ``"llamaizer"``) picks the
experiment, plus the tables and ``[[table]]`` lists that kind reads. Every failure is a one-line
:class:`~counting.spec.errors.SpecError` naming the field.

What every kind shares is read here, once:

* the header (:func:`parse_header`): ``[experiment]``'s ``kind``, ``name`` (default: the file's
  stem), ``n_inputs`` (where the kind has one; its default and range are the kind's), ``seed``
  (default 0) and ``chunk_size`` (default :data:`DEFAULT_CHUNK_SIZE`, the ``[estimator]``
  default of a job), plus the keys a kind adds;
* ``[[target]]`` lists (:func:`parse_targets`): each a ``name`` (a label) and a ``truth_table``,
  or a ``name`` alone for a named function, read by the spec's target parser into the spec's
  :class:`~counting.spec.target.Target` (named);
* estimator sub-tables (:func:`parse_part_estimator`): a part's rare-event settings are a job's
  ``[estimator]`` table (:func:`counting.spec.estimator.parse_estimator`: its fields, bounds and
  defaults), without a ``seed`` (the experiment's seed gives it);
* old-style keys (:func:`check_moved`): a key that moved is a one-line error naming its new place.

Example:
    >>> d = read_toml('[experiment]\\nkind = "llamaizer"\\n[[target]]\\nname = "a"\\n[[target]]\\nname = "b"')
    >>> [t["name"] for t in table_list(d, "target")]
    ['a', 'b']
    >>> unique(["a", "a"], "target.name")
    Traceback (most recent call last):
    ...
    counting.spec.errors.SpecError: target.name: expected distinct names, got ['a', 'a']
    >>> parse_header({"experiment": {"kind": "depth", "seed": 3}}, "depth", "demo", n_inputs=(4, 4, 4))
    Header(name='demo', kind='depth', n_inputs=4, seed=3, chunk_size=16384)
    >>> parse_targets([{"name": "and", "truth_table": "0x8"}, {"name": "majority"}], 3)
    Traceback (most recent call last):
    ...
    counting.spec.errors.SpecError: target[0].truth_table: expected a '0x' string of exactly 2 hex digits for n_inputs = 3 (such as '0xe8') or a list of the points where f is 1 (distinct integers 0 <= x < 8), got '0x8'
    >>> parse_part_estimator({"particles": 50}, "bias.estimator", ("smc",), seed=7).replicates
    10
    >>> check_moved({"particles": 500}, "bias", ("particles", "steps"), "[bias.estimator] (kind = \\"smc\\")")
    Traceback (most recent call last):
    ...
    counting.spec.errors.SpecError: bias.particles: expected no particles here: moved to [bias.estimator] (kind = "smc"), got 500
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

from counting.spec.errors import SpecError, check_keys, choice, integer, section
from counting.spec.estimator import MAX_CHUNK, SETTINGS, EstimatorSettings, MCSettings, parse_estimator
from counting.spec.target import Target, parse_target

DEFAULT_KIND = "llamaizer"
MAX_CHUNKS = 2**32  # chunk ids are uint32 fold_in data: a pass has at most this many chunks
DEFAULT_CHUNK_SIZE = MCSettings().chunk_size  # every kind's default: a job's [estimator] default
HEADER_KEYS = frozenset({"kind", "name", "n_inputs", "seed", "chunk_size"})


@dataclass(frozen=True)
class Header:
    """``[experiment]``'s common fields (``n_inputs`` is ``None`` for a kind without one)."""

    name: str
    kind: str
    n_inputs: int | None
    seed: int
    chunk_size: int


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


def parse_header(d: dict, kind: str, name: str, n_inputs: tuple[int, int, int] | None = None,
                 extra: frozenset[str] | set[str] = frozenset()) -> Header:
    """The ``[experiment]`` header of a ``kind`` experiment named ``name`` (the file's stem, unless
    ``[experiment] name`` gives one). ``n_inputs``: the kind's (default, lowest, highest), or
    ``None`` where it has none; ``extra``: the kind's own keys, read by the kind."""
    e = experiment_table(d)
    check_keys(e, (HEADER_KEYS - ({"n_inputs"} if n_inputs is None else set())) | set(extra), "experiment")
    choice(e.get("kind", kind), "experiment.kind", (kind,))
    name = e.get("name", name)
    if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):  # it names a folder
        raise SpecError("experiment.name", "a name usable as a folder name (no '/')", name)
    n = None if n_inputs is None else integer(e.get("n_inputs", n_inputs[0]), "experiment.n_inputs", *n_inputs[1:])
    return Header(name, kind, n, integer(e.get("seed", 0), "experiment.seed", 0, 2**32 - 1),
                  integer(e.get("chunk_size", DEFAULT_CHUNK_SIZE), "experiment.chunk_size", 1, MAX_CHUNK))


def table_list(d: dict, key: str, where: str | None = None) -> list[dict]:
    """A non-empty ``[[key]]`` list of tables (``where``: its name in errors, default ``key``)."""
    v, where = d.get(key, []), where or key
    if not isinstance(v, list) or not v or not all(isinstance(t, dict) for t in v):
        raise SpecError(where, f"one or more [[{where}]] tables")
    return v


def parse_targets(tables: list[dict], n: int, where: str = "target") -> tuple[Target, ...]:
    """``[[target]]`` tables, each a ``name`` (a label: it keys rows and files) and a
    ``truth_table``, or a ``name`` alone that names a function (``"majority"``), read by the spec's
    :func:`~counting.spec.target.parse_target`; names distinct."""
    out = []
    for i, t in enumerate(tables):
        at = f"{where}[{i}]"
        check_keys(t, {"name", "truth_table"}, at)
        if not isinstance(t.get("name"), str) or not t["name"]:
            raise SpecError(f"{at}.name", "a non-empty string", t.get("name"))
        spec = parse_target({"truth_table": t["truth_table"]} if "truth_table" in t else {"name": t["name"]}, n, at)
        out.append(Target(spec.truth_table, n, t["name"]))
    unique([t.name for t in out], f"{where}.name")
    return tuple(out)


def parse_part_estimator(t: dict, where: str, kinds: tuple[str, ...], seed: int) -> EstimatorSettings:
    """A part's estimator table (``[bias.estimator]``, say), read by the spec's
    :func:`~counting.spec.estimator.parse_estimator` with the spec's fields, bounds and defaults;
    its ``kind`` is one of ``kinds`` (default the first); no ``seed``: the experiment's, ``seed``
    (for a kind that has one: ``exact`` has none)."""
    t = section(t, where)
    if "seed" in t:
        raise SpecError(f"{where}.seed", "no seed here (experiment.seed seeds every pass)", t["seed"])
    kind = choice(t.get("kind", kinds[0]), f"{where}.kind", kinds)
    seeded = any(f.name == "seed" for f in dataclasses.fields(SETTINGS[kind]))
    return parse_estimator({"kind": kinds[0], **t, **({"seed": seed} if seeded else {})}, where)


def check_moved(t: dict, where: str, keys: tuple[str, ...] | list[str], place: str) -> None:
    """A one-line error for the first of ``keys`` that ``t`` still has: they moved to ``place``
    (an old-style file is refused before any work, naming the new form)."""
    for k in keys:
        if k in t:
            raise SpecError(f"{where}.{k}", f"no {k} here: moved to {place}", t[k])


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
