"""Experiment 1, inner llamaizers versus direct solutions: config, counting pass and tables.

For each architecture, one pass over the prior (or an exact enumeration of a discrete prior)
counts, for every target ``f`` and every llama ``g`` of its families:

* ``n_f``: networks computing ``f`` (symmetrized over ``f``'s orbit, see :mod:`counting.symmetry`);
* ``held[l, g]``: of those, the networks whose hidden layer ``l`` holds ``g`` (some unit has sign
  pattern ``g`` or ``not g``), and ``held_any[g]``: in some hidden layer;
* ``union[family, l, K]``: those holding *any* of the family's first ``K`` members;
* ``kept[g]``: those holding ``g`` both in layer 1 and in the last hidden layer;
* ``prior_held[l, g]``: networks holding ``g`` at ``l`` (or in any hidden layer) whatever they
  compute: the llama's cost without the target.

Counts are exact integers, accumulated chunk by chunk through :mod:`counting.jobs`, so a pass is
bit-identical across batch sizes, devices and interruptions. Every share is a ratio of two such
counts with an exact (Clopper-Pearson) interval, given the ``n_f`` networks that compute ``f``.

Example:
    >>> cfg = parse_experiment('''
    ... [experiment]
    ... n_inputs = 3
    ... samples = 4096
    ... chunk_size = 1024
    ... [[architecture]]
    ... widths = [8]
    ... [[target]]
    ... name = "and01"
    ... truth_table = "0x88"
    ... [[family]]
    ... name = "ignored"
    ... kind = "ignored_bits"
    ... ''')
    >>> counts, run = count_pass(cfg, cfg.architectures[0])
    >>> c = counts["and01"]
    >>> c.held.shape, bool(c.n_f > 0), bool((c.held <= c.n_f).all())   # rows: layer 1, any layer
    ((2, 1), True, True)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from counting import llamas as L
from counting.predicates import truth_tables
from counting.spec import (ACTIVATIONS, ModelSpec, PriorSpec, Spec, SpecError, EstimatorSpec, TargetSpec,
                           _check_keys, _choice, _int, _prior, parse_truth_table)
from counting.stats import clopper_pearson_many
from counting.symmetry import orbit_transport
from counting.truth import pack, to_hex

FAMILY_KINDS = ("ignored_bits", "random_weight", "random_degree", "named")


# ----------------------------------------------------------------------------- config
@dataclass(frozen=True)
class Architecture:
    name: str
    widths: tuple[int, ...]
    activation: str = "relu"
    samples: int | None = None  # overrides the experiment's


@dataclass(frozen=True)
class Target:
    name: str
    truth_table: int


@dataclass(frozen=True)
class Family:
    """Llamas for a target. ``ignored_bits``: every non-constant function of the bits the target
    ignores (up to negation). ``random_weight``: ``count`` random functions with ``weight`` ones.
    ``random_degree``: ``count`` random functions of Fourier degree ``degree`` on ``degree`` of the
    ignored bits (or of all bits with ``bits = "all"``). ``named``: the listed ``truth_tables``."""

    name: str
    kind: str
    weight: int = 0
    degree: int = 0
    count: int = 0
    seed: int = 0
    bits: str = "ignored"
    truth_tables: tuple[int, ...] = ()


@dataclass(frozen=True)
class Experiment:
    name: str
    n_inputs: int
    samples: int
    seed: int
    chunk_size: int
    estimator: str  # "mc" or "exact"
    prior: PriorSpec
    architectures: tuple[Architecture, ...]
    targets: tuple[Target, ...]
    families: tuple[Family, ...]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True, default=str).encode()).hexdigest()[:16]


def _table_list(d: dict, key: str) -> list[dict]:
    v = d.get(key, [])
    if not isinstance(v, list) or not v or not all(isinstance(t, dict) for t in v):
        raise SpecError(key, f"one or more [[{key}]] tables")
    return v


def parse_experiment(text: str, name: str = "llamaizer") -> Experiment:
    """Validate an experiment TOML document (one-line :class:`SpecError` on bad input)."""
    try:
        d = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SpecError("toml", f"well-formed TOML ({e})") from None
    _check_keys(d, {"experiment", "prior", "architecture", "target", "family"}, "experiment file")
    e = d.get("experiment", {})
    if not isinstance(e, dict):
        raise SpecError("experiment", "a TOML table", e)
    _check_keys(e, {"kind", "n_inputs", "samples", "seed", "chunk_size", "estimator"}, "experiment")
    _choice(e.get("kind", "llamaizer"), "experiment.kind", ("llamaizer",))
    n = _int(e.get("n_inputs", 5), "experiment.n_inputs", 2, 5)
    chunk = _int(e.get("chunk_size", 16_384), "experiment.chunk_size", 1, 2**24)
    samples = _int(e.get("samples", 1_000_000), "experiment.samples", 1, chunk * 2**32)
    seed = _int(e.get("seed", 0), "experiment.seed", 0, 2**32 - 1)
    estimator = _choice(e.get("estimator", "mc"), "experiment.estimator", ("mc", "exact"))
    if not isinstance(d.get("prior", {}), dict):
        raise SpecError("prior", "a TOML table", d["prior"])
    prior = _prior(d.get("prior", {}))
    if estimator == "exact" and not prior.discrete:
        raise SpecError("experiment.estimator", "a discrete prior ('ternary' or 'integer') for 'exact'", prior.kind)

    archs = []
    for i, a in enumerate(_table_list(d, "architecture")):
        where = f"architecture[{i}]"
        _check_keys(a, {"name", "widths", "activation", "samples"}, where)
        widths = a.get("widths")
        if not isinstance(widths, list) or not widths:
            raise SpecError(f"{where}.widths", "a non-empty list of hidden widths (llamas live in hidden layers)",
                            widths)
        widths = tuple(_int(w, f"{where}.widths[{j}]", 1) for j, w in enumerate(widths))
        act = _choice(a.get("activation", "relu"), f"{where}.activation", ACTIVATIONS)
        s = a.get("samples")
        s = None if s is None else _int(s, f"{where}.samples", 1, chunk * 2**32)
        archs.append(Architecture(a.get("name") or "-".join(map(str, (n, *widths, 1))), widths, act, s))
    _unique([a.name for a in archs], "architecture.name")

    targets = []
    for i, t in enumerate(_table_list(d, "target")):
        where = f"target[{i}]"
        _check_keys(t, {"name", "truth_table"}, where)
        if "truth_table" not in t or "name" not in t:
            raise SpecError(where, "a 'name' and a 'truth_table'")
        tt = parse_truth_table(t["truth_table"], n, f"{where}.truth_table")
        if tt in (0, (1 << 2**n) - 1):
            raise SpecError(f"{where}.truth_table", "a non-constant function", t["truth_table"])
        targets.append(Target(str(t["name"]), tt))
    _unique([t.name for t in targets], "target.name")

    families = []
    for i, f in enumerate(_table_list(d, "family")):
        where = f"family[{i}]"
        _check_keys(f, {"name", "kind", "weight", "degree", "count", "seed", "bits", "truth_tables"}, where)
        kind = _choice(f.get("kind"), f"{where}.kind", FAMILY_KINDS)
        fam = Family(str(f.get("name", kind)), kind,
                     weight=_int(f.get("weight", 0), f"{where}.weight", 0, 2**n),
                     degree=_int(f.get("degree", 0), f"{where}.degree", 0, n),
                     count=_int(f.get("count", 0), f"{where}.count", 0, 1 << 16),
                     seed=_int(f.get("seed", 0), f"{where}.seed", 0, 2**32 - 1),
                     bits=_choice(f.get("bits", "ignored"), f"{where}.bits", ("ignored", "all")),
                     truth_tables=tuple(parse_truth_table(v, n, f"{where}.truth_tables[{j}]")
                                        for j, v in enumerate(f.get("truth_tables", []))))
        if kind == "random_weight" and not (0 < fam.weight < 2**n and fam.count > 0):
            raise SpecError(where, f"'weight' in 1..{2**n - 1} and 'count' >= 1 for 'random_weight'")
        if kind == "random_degree" and not (fam.degree >= 1 and fam.count > 0):
            raise SpecError(where, "'degree' >= 1 and 'count' >= 1 for 'random_degree'")
        if kind == "named" and not fam.truth_tables:
            raise SpecError(f"{where}.truth_tables", "one or more truth tables for 'named'")
        families.append(fam)
    _unique([f.name for f in families], "family.name")
    return Experiment(name, n, samples, seed, chunk, estimator, prior, tuple(archs), tuple(targets),
                      tuple(families))


def load_experiment(path: str | Path) -> Experiment:
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise SpecError("experiment", f"a readable TOML file ({e.strerror})", str(p)) from None
    return parse_experiment(text, name=p.stem)


def _unique(names: list[str], field: str) -> None:
    if len(set(names)) != len(names):
        raise SpecError(field, "distinct names", names)


# ----------------------------------------------------------------------------- llamas per target
def ignored_bits(tt: int, n: int) -> tuple[int, ...]:
    """Bits the function does not depend on."""
    rel = set(L.relevant_bits(tt, n))
    return tuple(j for j in range(n) if j not in rel)


def family_members(fam: Family, target: Target, n: int) -> tuple[int, ...]:
    """The family's llamas for ``target`` (canonical truth tables, in the family's order)."""
    free = ignored_bits(target.truth_table, n)
    if fam.kind == "ignored_bits":
        if not free:
            raise SpecError(f"family {fam.name}", f"a target that ignores some bit ({target.name} uses all)")
        return L.functions_of_bits(free, n)
    if fam.kind == "random_weight":
        return L.random_of_weight(n, fam.weight, fam.count, fam.seed)
    if fam.kind == "random_degree":
        bits = free if fam.bits == "ignored" else tuple(range(n))
        try:
            return L.random_of_degree(n, fam.degree, fam.count, fam.seed, bits=bits)
        except ValueError as e:
            raise SpecError(f"family {fam.name}", f"a degree and count the bits allow ({e})") from None
    return tuple(dict.fromkeys(L.canonical(t, n) for t in fam.truth_tables))


class TargetPlan(NamedTuple):
    target: Target
    llamas: tuple[int, ...]  # distinct canonical llamas: the columns
    families: dict[str, np.ndarray]  # family -> its columns, in family order
    orbit: np.ndarray  # [M] uint32, sorted
    transported: np.ndarray  # [M, J] uint32, canonical


def plan_target(exp: Experiment, target: Target) -> TargetPlan:
    n = exp.n_inputs
    members = {f.name: family_members(f, target, n) for f in exp.families}
    llamas = tuple(dict.fromkeys(g for ms in members.values() for g in ms))
    col = {g: j for j, g in enumerate(llamas)}
    orb = orbit_transport(target.truth_table, llamas, n)
    transported = np.array([[L.canonical(int(g), n) for g in row] for row in orb.llamas], np.uint32)
    return TargetPlan(target, llamas, {k: np.array([col[g] for g in v], np.int32) for k, v in members.items()},
                      np.array([int(h) for h in orb.orbit], np.uint32), transported.reshape(len(orb.orbit), -1))


# ----------------------------------------------------------------------------- the counting pass
def _canonical_units(z, n: int):
    """Canonical (bit 0 clear) sign pattern of every unit: ``[B, units]`` uint32."""
    t = pack(z > 0)[..., 0]
    full = jnp.uint32((1 << 2**n) - 1)
    return jnp.where((t & 1) == 1, (~t) & full, t)


def _present(tables, sorted_rows, order, n_cols: int):
    """``[B, J]``: which of the ``J`` llamas appear among each network's unit tables ``[B, U]``.

    ``sorted_rows`` ``[B, J]`` (or ``[J]`` for all networks alike) are the llamas sorted, ``order``
    their column numbers. A binary search per unit and a scatter per network cost ``B U log J``,
    not the ``B U J`` of comparing every unit with every llama.
    """
    if sorted_rows.ndim == 1:
        pos = jnp.searchsorted(sorted_rows, tables)
        pos = jnp.clip(pos, 0, n_cols - 1)
        found = sorted_rows[pos] == tables
        col = jnp.where(found, order[pos], n_cols)
    else:
        pos = jax.vmap(jnp.searchsorted)(sorted_rows, tables)
        pos = jnp.clip(pos, 0, n_cols - 1)
        found = jnp.take_along_axis(sorted_rows, pos, axis=1) == tables
        col = jnp.where(found, jnp.take_along_axis(order, pos, axis=1), n_cols)
    b = jnp.arange(tables.shape[0])[:, None]
    return jnp.zeros((tables.shape[0], n_cols + 1), bool).at[b, col].set(True)[:, :n_cols]


def llamaizer_reducer(plans: list[TargetPlan], n_layers: int, n: int):
    """Per block of networks: the integer counts described in the module docstring, per target."""
    dev = []
    for p in plans:
        order = np.argsort(p.transported, axis=1, kind="stable").astype(np.int32)
        plain = np.array([L.canonical(g, n) for g in p.llamas], np.uint32)
        porder = np.argsort(plain, kind="stable").astype(np.int32)
        ranks = {}
        for name, cols in p.families.items():  # position of each column in the family (or "absent")
            r = np.full(len(p.llamas), len(cols), np.int32)
            r[cols] = np.arange(len(cols), dtype=np.int32)
            ranks[name] = jnp.asarray(r)
        dev.append((jnp.asarray(p.orbit), jnp.asarray(np.take_along_axis(p.transported, order, axis=1)),
                    jnp.asarray(order), jnp.asarray(plain[porder]), jnp.asarray(porder), ranks,
                    {k: len(v) for k, v in p.families.items()}))

    def reduce(fwd, valid):
        out_tt = truth_tables(fwd)[:, 0]
        units = [_canonical_units(fwd.sites[f"layer{l}"], n) for l in range(1, n_layers + 1)]
        v32 = valid.astype(jnp.int32)
        result = {}
        for plan, (orbit, tr_sorted, tr_order, plain, porder, ranks, sizes) in zip(plans, dev):
            J = len(plan.llamas)
            i = jnp.clip(jnp.searchsorted(orbit, out_tt), 0, orbit.shape[0] - 1)
            hit = (orbit[i] == out_tt) & valid
            h32 = hit.astype(jnp.int32)
            held = jnp.stack([_present(u, tr_sorted[i], tr_order[i], J) for u in units])  # [L, B, J]
            per_layer = jnp.concatenate([held, jnp.any(held, axis=0)[None]])  # [L + 1, B, J]
            r = {
                "n_f": jnp.sum(h32),
                "held": jnp.einsum("b,lbj->lj", h32, per_layer.astype(jnp.int32)),
                "kept": jnp.einsum("b,bj->j", h32, (held[0] & held[-1]).astype(jnp.int32)),
            }
            for name, rank in ranks.items():
                # first family member held: the network is in the union of the first K iff first < K
                first = jnp.min(jnp.where(per_layer, rank, sizes[name]), axis=2)  # [L + 1, B]
                hist = jnp.zeros((n_layers + 1, sizes[name] + 1), jnp.int32)
                hist = hist.at[jnp.arange(n_layers + 1)[:, None], first].add(h32[None, :])
                r[f"union:{name}"] = jnp.cumsum(hist[:, :-1], axis=1)
            prior = jnp.stack([_present(u, plain, porder, J) for u in units])
            prior = jnp.concatenate([prior, jnp.any(prior, axis=0)[None]])  # [L + 1, B, J]
            r["prior_held"] = jnp.einsum("b,lbj->lj", v32, prior.astype(jnp.int32))
            result[plan.target.name] = r
        return result

    return reduce


class TargetCounts(NamedTuple):
    n_f: int
    held: np.ndarray  # [L + 1, J] (last row: any hidden layer)
    kept: np.ndarray  # [J]
    unions: dict[str, np.ndarray]  # family -> [L + 1, K]
    prior_held: np.ndarray  # [L + 1, J]


class _Counts:
    """Accumulator of the pass's integer counts (checkpointable like the job's own)."""

    def __init__(self):
        self.sums: dict[str, np.ndarray] = {}

    def add(self, result, n_valid):
        for t, r in result.items():
            for k, v in r.items():
                arr = np.asarray(v, np.int64)
                s = arr.reshape((-1,) + arr.shape[2:]).sum(axis=0)  # over chunks and blocks
                key = f"{t}|{k}"
                self.sums[key] = self.sums.get(key, 0) + s

    def state(self):
        return {f"acc|{k}": np.asarray(v, np.int64) for k, v in self.sums.items()}

    def load(self, d):
        self.sums = {k[4:]: np.asarray(d[k], np.int64) for k in d.files if k.startswith("acc|")}

    def by_target(self, plans: list[TargetPlan]) -> dict[str, TargetCounts]:
        out = {}
        for p in plans:
            t = p.target.name
            get = lambda k: np.asarray(self.sums[f"{t}|{k}"], np.int64)  # noqa: E731
            out[t] = TargetCounts(int(get("n_f")), get("held"), get("kept"),
                                  {f: get(f"union:{f}") for f in p.families}, get("prior_held"))
        return out


def arch_spec(exp: Experiment, arch: Architecture) -> Spec:
    """The job spec of one architecture's pass."""
    est = EstimatorSpec(kind=exp.estimator, samples=arch.samples or exp.samples, seed=exp.seed,
                        chunk_size=exp.chunk_size)
    model = ModelSpec(kind="mlp", n_inputs=exp.n_inputs, widths=arch.widths, activation=arch.activation)
    return Spec(model, exp.prior, TargetSpec(), est)


def count_pass(exp: Experiment, arch: Architecture, options=None) -> tuple[dict[str, TargetCounts], dict]:
    """Run one architecture's pass (``options``: a :class:`counting.jobs.RunOptions`): the counts per
    target and the run facts (``samples`` is the number of networks, or configurations, counted)."""
    from counting.jobs import RunOptions, _prepare, _run

    options = options or RunOptions()
    plans = [plan_target(exp, t) for t in exp.targets]
    spec = arch_spec(exp, arch)
    run_spec, source = _prepare(spec)
    acc = _Counts()
    run = _run(run_spec, f"llamaizer:{exp.digest()}", llamaizer_reducer(plans, len(arch.widths), exp.n_inputs),
               acc, options, source)
    return acc.by_target(plans), run


# ----------------------------------------------------------------------------- tables
def _share_columns(k: np.ndarray, n: int, exact: bool) -> dict[str, np.ndarray]:
    """Share ``k / n`` with its 95% interval, and the cost in bits ``-log2(share)`` (interval reversed)."""
    k = np.asarray(k, np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = k / n if n > 0 else np.full(k.shape, np.nan)
        if exact or n == 0:
            lo, hi = share, share
        else:
            lo, hi = clopper_pearson_many(k, int(n))
        cost = -np.log2(share)
        return {"share": share, "share_lo": lo, "share_hi": hi, "cost_bits": cost,
                "cost_bits_lo": -np.log2(hi), "cost_bits_hi": -np.log2(lo)}


def tables(exp: Experiment, arch: Architecture, plans: list[TargetPlan], counts: dict[str, TargetCounts],
           samples: int) -> dict[str, pd.DataFrame]:
    """The four result tables of one architecture's pass over ``samples`` networks (or configurations)."""
    n = exp.n_inputs
    exact = exp.estimator == "exact"
    n_layers = len(arch.widths)
    layer_names = [str(l) for l in range(1, n_layers + 1)] + ["any"]
    vol, cost, share, discard = [], [], [], []
    for p in plans:
        c = counts[p.target.name]
        m = len(p.orbit)
        lo, hi = (c.n_f / samples,) * 2 if exact else clopper_pearson_many(np.array([c.n_f]), int(samples))
        vol.append({"architecture": arch.name, "target": p.target.name,
                    "truth_table": to_hex(p.target.truth_table, n), "orbit_size": m, "orbit_hits": c.n_f,
                    "samples": samples, "volume": c.n_f / samples / m,
                    "log10_volume": math.log10(c.n_f / samples / m) if c.n_f else None,
                    "ci95_lo": math.log10(float(np.asarray(lo).item()) / m) if c.n_f else None,
                    "ci95_hi": math.log10(float(np.asarray(hi).item()) / m)})
        desc = [L.describe(g, n) for g in p.llamas]
        fam_of = {}
        for fname, cols in p.families.items():
            for j in cols:
                fam_of.setdefault(int(j), fname)
        for li, lname in enumerate(layer_names):
            cols = _share_columns(c.held[li], c.n_f, exact)
            prior = _share_columns(c.prior_held[li], samples, exact)
            for j, g in enumerate(p.llamas):
                row = {"architecture": arch.name, "target": p.target.name, "family": fam_of[j],
                       "llama": to_hex(g, n), "degree": desc[j]["degree"], "weight": desc[j]["weight"],
                       "relevant_bits": desc[j]["relevant_bits"], "threshold": desc[j]["threshold"],
                       "layer": lname, "n_f": c.n_f, "n_f_and_g": int(c.held[li, j]),
                       **{k: float(v[j]) for k, v in cols.items()}}
                row.update({"prior_share": float(prior["share"][j]), "prior_cost_bits": float(prior["cost_bits"][j]),
                                "prior_cost_bits_lo": float(prior["cost_bits_lo"][j]),
                            "prior_cost_bits_hi": float(prior["cost_bits_hi"][j])})
                cost.append(row)
        for fname, u in c.unions.items():
            cols_f = p.families[fname]
            for li, lname in enumerate(layer_names):
                sc = _share_columns(u[li], c.n_f, exact)
                indiv = np.cumsum(c.held[li, cols_f]) / max(c.n_f, 1)
                for k in range(len(cols_f)):
                    K = k + 1
                    share.append({"architecture": arch.name, "target": p.target.name, "family": fname,
                                  "layer": lname, "K": K, "n_f": c.n_f, "n_f_and_any": int(u[li, k]),
                                  "share": float(sc["share"][k]), "share_lo": float(sc["share_lo"][k]),
                                  "share_hi": float(sc["share_hi"][k]), "naive_share": K / (K + 1),
                                  "sum_of_shares": float(indiv[k]),
                                  "overlap": float(indiv[k] - sc["share"][k])})
        first, both = c.held[0], c.kept
        disc = _share_columns(first - both, c.n_f, exact)
        keep = _share_columns(both, c.n_f, exact)
        for j, g in enumerate(p.llamas):
            discard.append({"architecture": arch.name, "target": p.target.name, "family": fam_of[j],
                            "llama": to_hex(g, n), "degree": desc[j]["degree"],
                            "threshold": desc[j]["threshold"], "last_layer": n_layers, "n_f": c.n_f,
                            "built_discarded": int(first[j] - both[j]), "built_kept": int(both[j]),
                            **{f"discard_{k}": float(v[j]) for k, v in disc.items()},
                            **{f"keep_{k}": float(v[j]) for k, v in keep.items()}})
    return {"volumes": pd.DataFrame(vol), "cost": pd.DataFrame(cost), "share": pd.DataFrame(share),
            "discard": pd.DataFrame(discard)}


def run_experiment(exp: Experiment, out: Path | None = None, work: Path | None = None, resume: bool = False,
                   progress: bool | None = None, batch_size: int | None = None,
                   checkpoint_seconds: float = 30.0) -> dict[str, pd.DataFrame]:
    """Every architecture's pass, then the tables (and, with ``out``, parquet files, figures and a
    manifest, written atomically). ``work`` holds each pass's checkpoint for ``resume``."""
    from counting.jobs import RunOptions

    plans = [plan_target(exp, t) for t in exp.targets]
    if work is not None and not resume:
        for arch in exp.architectures:
            if (Path(work) / arch.name / "checkpoint.npz").exists():
                raise SpecError("--work", "a folder without an unfinished run, or --resume to continue it",
                                str(Path(work) / arch.name))
    parts: dict[str, list[pd.DataFrame]] = {}
    runs, raw = {}, {}
    for arch in exp.architectures:
        wdir = None if work is None else Path(work) / arch.name
        if wdir is not None:
            wdir.mkdir(parents=True, exist_ok=True)
        opts = RunOptions(out=wdir, resume=resume, progress=progress, batch_size=batch_size,
                          checkpoint_seconds=checkpoint_seconds)
        counts, runs[arch.name] = count_pass(exp, arch, opts)
        for t, c in counts.items():
            raw.update({f"{arch.name}|{t}|n_f": np.array(c.n_f), f"{arch.name}|{t}|held": c.held,
                        f"{arch.name}|{t}|kept": c.kept, f"{arch.name}|{t}|prior_held": c.prior_held,
                        **{f"{arch.name}|{t}|union:{k}": u for k, u in c.unions.items()}})
        for k, df in tables(exp, arch, plans, counts, runs[arch.name]["samples"]).items():
            parts.setdefault(k, []).append(df)
    result = {k: pd.concat(v, ignore_index=True) for k, v in parts.items()}
    if out is not None:
        _write(exp, Path(out), result, runs, raw)
    if work is not None:  # every pass is in the tables now: its checkpoint has served
        for arch in exp.architectures:
            (Path(work) / arch.name / "checkpoint.npz").unlink(missing_ok=True)
    return result


def _write(exp: Experiment, out: Path, result: dict[str, pd.DataFrame], runs: dict, raw: dict) -> None:
    import io

    from counting.outputs import atomic_write_bytes, manifest, write_json, write_parquet
    from counting.plots import llamaizer_figures

    buf = io.BytesIO()
    np.savez_compressed(buf, **raw)
    atomic_write_bytes(out / "counts.npz", buf.getvalue())
    files = ["counts.npz"]
    for k, df in result.items():
        write_parquet(out / f"{k}.parquet", df)
        files.append(f"{k}.parquet")
    files += llamaizer_figures(result, out)
    spec = {"experiment": exp.to_dict(), "estimator": {"seed": exp.seed, "key_impl": "threefry2x32"}}
    total = sum(r["seconds"] for r in runs.values())
    m = manifest("llamaizer", spec, {"passes": runs, "seconds": total,
                                     "samples": sum(r["samples"] for r in runs.values())},
                 {"seconds": total}, files)
    write_json(out / "manifest.json", m)
