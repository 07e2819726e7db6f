"""Census bookkeeping at scale: the sorted-run census against the old ``np.unique(axis=0)`` one.

Synthetic rows stand in for a 7-input census (4 uint32 words per table): about half the draws
are the two constant functions, the rest a Zipf-like tail of near-constant tables (a few bits
flipped, so many tables share their first 64 bits, as real ones do) over a support far larger
than the draws, with the distinct fraction of a real census (see :func:`synthetic_rows`). Every variant counts the same rows and must give the same census.

1. One flush: distinct rows of 2**flush rows (old ``np.unique(axis=0)`` against the new sort).
2. A whole census of 2**rows rows in flushes of 2**flush rows: the old tally (concatenate and
   ``np.unique(axis=0)`` the census with every flush), the new merge into one growing census
   at every flush, and the new stack of runs (:class:`counting.engine.census.CensusRuns`, which
   :class:`counting.engine.tally.CensusTally` now fills with runs already sorted on the device),
   and the peak memory of the last (tracemalloc).
3. At the target scale (``--big`` distinct functions): merging one flush into that census (the
   cost of a checkpoint's collapse), the tables of a checkpoint, its ``np.savez`` and its peak
   memory; with ``--big-old``, the old ``np.unique(axis=0)`` merge at that scale too (minutes).
4. End to end: a census of ``--e2e`` networks of a 7-40-40-1 relu MLP through the engine, with the
   time spent in the tally (the bookkeeping) apart from the rest (sampling and forward).
5. Census against volume: the commands ``counting volume`` and ``counting census`` of the same spec
   (7-40-40-1 relu on 7 bits) and the same ``--ratio`` networks, run alternately ``--repeats`` times
   for each ``--batch-sizes`` (``default``: the command's own), the best wall time of each and
   their ratio (a census should cost little more than a volume: the sampling and forward are the
   same, only the reduction differs). ``--before DIR`` also times the census of another source tree
   (the code before a change) in the same alternation. ``--record FILE.json`` writes the figures.

    python experiments/census_bench.py [--rows 24] [--flush 20] [--big 30000000] [--big-old] [--e2e 2097152]
    nice -n 10 python experiments/census_bench.py --parts 5 --ratio 1048576 --batch-sizes 4096,default
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from counting.engine.census import Census, CensusRuns, key_rows, merge_sorted, row_keys, unique_rows

WORDS = 4


def old_unique_rows(rows: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The census's distinct-row count before the sorted runs (the baseline, kept verbatim)."""
    if rows.shape[0] == 0:
        return rows, weights.astype(np.int64)
    uniq, inv = np.unique(rows, axis=0, return_inverse=True)
    return uniq, np.bincount(inv.reshape(-1), weights=weights, minlength=len(uniq)).astype(np.int64)


def synthetic_rows(n: int, seed: int = 0, shape: float = 0.1, scale: float = 1000.0) -> np.ndarray:
    """``n`` draws of 4-word tables: 52% the two constants, the rest near-constant tables of rank
    ``k >= 1`` with probability ``~ (k + scale) ** -(1 + shape)`` (a Zipf law with a flattened head).

    Tuned on a real 7-40-40-1 relu census: 41% distinct at 2**17 draws (43% there, the top
    non-constant function seen 12 times, 30 there), 34% at 2**20, 26% at 2**24.
    """
    rng = np.random.default_rng(seed)
    with np.errstate(over="ignore"):
        tail = np.floor(scale * ((1 - rng.random(n)) ** (-1 / shape) - 1))
    rank = np.minimum(tail, 2.0**62).astype(np.int64) + 1
    rank[rng.random(n) < 0.52] = 0
    ranks, inv = np.unique(rank, return_inverse=True)
    trng = np.random.default_rng(seed + 1)
    mask = trng.integers(0, 2**32, (len(ranks), WORDS), dtype=np.uint64).astype(np.uint32)
    sparsity = trng.integers(1, 7, len(ranks))  # AND of 1..6 random words: 1/2 .. 1/64 of the bits
    for t in range(2, 7):
        more = trng.integers(0, 2**32, (len(ranks), WORDS), dtype=np.uint64).astype(np.uint32)
        mask = np.where((sparsity >= t)[:, None], mask & more, mask)
    mask[ranks == 0] = 0
    const = np.where((trng.random(len(ranks)) < 0.5)[:, None], np.uint32(0xFFFFFFFF), np.uint32(0))
    table = const ^ mask
    table[0] = 0
    rows = table[inv]
    rows[(rank == 0) & (rng.random(n) < 0.5)] = 0xFFFFFFFF
    return rows


def timed(f):
    t0 = time.perf_counter()
    out = f()
    return out, time.perf_counter() - t0


def census_old(flushes: list[np.ndarray]) -> Census:
    """The old tally: every flush is counted and merged into the census by ``np.unique(axis=0)``."""
    t, c = np.zeros((0, WORDS), np.uint32), np.zeros(0, np.int64)
    for f in flushes:
        ft, fc = old_unique_rows(f, np.ones(len(f), np.int64))
        t, c = old_unique_rows(np.concatenate([t, ft]), np.concatenate([c, fc]))
    return Census(t, c, 7)


def census_one(flushes: list[np.ndarray]) -> Census:
    """New sort and merge, one growing census merged with every flush (no stack of runs)."""
    c = Census.empty(7, WORDS)
    for f in flushes:
        c = c.merge(Census.from_rows(f, 7))
    return c


def census_runs(flushes: list[np.ndarray]) -> Census:
    """New sort and merge with the stack of runs (the tally's way)."""
    runs = CensusRuns(WORDS)
    for f in flushes:
        runs.add_rows(f)
    k, c = runs.collapse()
    return Census(key_rows(k, WORDS), c, 7)


def same(a: Census, b: Census) -> bool:
    return a.tables.shape == b.tables.shape and bool((a.tables == b.tables).all() and (a.counts == b.counts).all())


def table(rows: list[tuple]) -> None:
    w = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(str(x).rjust(w[i]) if i else str(x).ljust(w[i]) for i, x in enumerate(r)))
    print()


def bench_flush(rows: np.ndarray) -> None:
    w = np.ones(len(rows), np.int64)
    (ot, oc), t_old = timed(lambda: old_unique_rows(rows, w))
    (nt, nc), t_new = timed(lambda: unique_rows(rows, w))
    assert (ot == nt).all() and (oc == nc).all()
    print(f"1. distinct rows of one flush: {len(rows):,} rows, {len(nt):,} distinct")
    table([("method", "seconds", "rows/s", "speedup"),
           ("old np.unique(axis=0)", f"{t_old:.3f}", f"{len(rows) / t_old:.3g}", "1.0"),
           ("new key sort", f"{t_new:.3f}", f"{len(rows) / t_new:.3g}", f"{t_old / t_new:.1f}")])


def bench_census(flushes: list[np.ndarray], skip_old: bool) -> None:
    n = sum(len(f) for f in flushes)
    res = {}
    for name, f in (("old np.unique every flush", census_old), ("new merge into one census", census_one),
                    ("new stack of runs (tally)", census_runs)):
        if skip_old and f is census_old:
            continue
        res[name] = timed(lambda: f(flushes))
    ref = next(iter(res.values()))[0]
    assert all(same(ref, c) for c, _ in res.values()), "the variants disagree"
    base = next(iter(res.values()))[1]
    print(f"2. census of {n:,} rows in {len(flushes)} flushes of {len(flushes[0]):,}: "
          f"{ref.distinct:,} distinct, identical in every variant")
    table([("method", "seconds", "rows/s", "speedup")] +
          [(k, f"{t:.2f}", f"{n / t:.3g}", f"{base / t:.1f}") for k, (_, t) in res.items()])
    tracemalloc.start()
    census_runs(flushes)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    held = sum(f.nbytes for f in flushes)
    print(f"   stack of runs: traced peak {peak / 2**20:.0f} MiB beyond the {held / 2**20:.0f} MiB of input rows; "
          f"the census itself is {ref.distinct * (8 + 4 * WORDS) / 2**20:.0f} MiB\n")


def bench_big(distinct: int, flush: np.ndarray, old: bool) -> None:
    rng = np.random.default_rng(5)
    keys = np.sort(rng.integers(0, 2**64, (2, distinct), dtype=np.uint64), axis=1)
    keys[1] = rng.integers(0, 2**64, distinct, dtype=np.uint64)
    keys[0, : distinct // 4] = 0  # a quarter share their first 64 bits (ties on the first key)
    keys[1, : distinct // 4].sort()
    counts = rng.integers(1, 4, distinct).astype(np.int64)
    runs = CensusRuns(WORDS)
    runs.add_rows(flush)
    (fk, fc) = runs.runs[0]
    (mk, mc), t_merge = timed(lambda: merge_sorted(keys, counts, fk, fc))
    tables, t_tables = timed(lambda: key_rows(mk, WORDS))
    _, t_keys = timed(lambda: row_keys(tables))
    buf = io.BytesIO()
    _, t_savez = timed(lambda: np.savez(buf, tables=tables, counts=mc))
    size = buf.getbuffer().nbytes
    del buf, mk, mc, tables
    rows = [(f"merge one flush ({fk.shape[1]:,} distinct) into it", f"{t_merge:.2f}"),
            ("its tables for a checkpoint (key_rows)", f"{t_tables:.2f}"),
            ("tables back to keys (row_keys, a resume)", f"{t_keys:.2f}"),
            (f"np.savez of the checkpoint state to memory ({size / 2**30:.2f} GiB)", f"{t_savez:.2f}"),
            ("a checkpoint's state in all (merge, tables, savez; not the disk write)",
             f"{t_merge + t_tables + t_savez:.2f}")]
    if old:
        ot, oc = key_rows(keys, WORDS), counts
        _, t_old = timed(lambda: old_unique_rows(np.concatenate([ot, key_rows(fk, WORDS)]), np.concatenate([oc, fc])))
        rows.append(("old: np.unique(axis=0) of the census and the flush (each flush, and a checkpoint)",
                     f"{t_old:.2f}"))
        del ot, oc
    tracemalloc.start()  # the memory a checkpoint needs beyond the census and its flush
    runs.runs.insert(0, (keys, counts))
    base, _ = tracemalloc.get_traced_memory()
    k, c = runs.collapse()
    buf = io.BytesIO()
    np.savez(buf, tables=key_rows(k, WORDS), counts=c)
    buf.getvalue()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"3. at scale: a census of {distinct:,} distinct functions ({distinct * 24 / 2**30:.2f} GiB)")
    table([("step", "seconds")] + rows)
    print(f"   a checkpoint's traced peak: {(peak - base) / 2**30:.2f} GiB beyond the census "
          f"({(peak - base) / (24 * distinct):.1f}x its size)\n")


def bench_e2e(samples: int) -> None:
    from counting.engine.run import RunOptions, run_pass
    from counting.engine.tally import CensusTally
    from counting.spec import parse_spec

    spec = parse_spec(f"""
[model]
kind = "mlp"
n_inputs = 7
widths = [40, 40]
activation = "relu"
[estimator]
kind = "mc"
samples = {samples}
seed = 0
""", need_target=False)

    class Timed(CensusTally):
        spent = 0.0

        def add(self, result, n_valid):
            np.asarray(result[0] if isinstance(result, tuple) else result)  # wait for the device first
            t1 = time.perf_counter()
            super().add(result, n_valid)
            self.spent += time.perf_counter() - t1

        def finalize(self):
            t0 = time.perf_counter()
            c = super().finalize()
            self.spent += time.perf_counter() - t0
            return c

    est = spec.estimator
    tally = Timed(7, est.chunk_size, est.samples)
    facts, wall = timed(lambda: run_pass(spec, tally, RunOptions(progress=False)))
    census = tally.finalize()
    frame, t_frame = timed(census.frame)
    rest = wall - tally.spent
    print(f"4. end to end: {samples:,} networks of a 7-40-40-1 relu MLP (chunk {est.chunk_size}, "
          f"batch {facts.batch_size}): {census.distinct:,} distinct functions")
    table([("part", "seconds", "networks/s"),
           ("whole pass (run_pass)", f"{wall:.1f}", f"{samples / wall:,.0f}"),
           ("sampling + forward + transfer (pass minus tally)", f"{rest:.1f}", f"{samples / rest:,.0f}"),
           ("census bookkeeping (tally add + finalize)", f"{tally.spent:.2f}", f"{samples / tally.spent:,.0f}"),
           (f"census.frame() of {len(frame):,} rows (the result table)", f"{t_frame:.1f}", "")])
    print(f"   process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")


RATIO_SPEC = """# census against volume: 7-40-40-1 relu on 7 bits (the 2019 paper's network)
[model]
kind = "mlp"
n_inputs = 7
widths = [40, 40]
activation = "relu"
[target]
name = "parity"
[estimator]
kind = "mc"
samples = 1024
seed = 0
"""


def command_seconds(command: str, spec: Path, samples: int, batch: str, out: Path, tree: str | None = None
                    ) -> tuple[float, dict]:
    """Wall seconds of one ``counting COMMAND`` in a fresh process (start-up, compile, pass, result
    written), and its JSON; ``tree``: run the package of that source tree instead (a baseline)."""
    args = [sys.executable, "-m", "counting", command, str(spec), "--samples", str(samples), "--out", str(out),
            "--force", "--json", "--no-progress"] + ([] if batch == "default" else ["--batch-size", batch])
    t0 = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, cwd=tree)
    wall = time.perf_counter() - t0
    if done.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr}")
    return wall, json.loads(done.stdout.strip().splitlines()[-1])


def bench_ratio(samples: int, batches: list[str], repeats: int, record: str | None, before: str | None) -> None:
    rows, figures = [("batch", "command", "best wall s", "networks/s (wall)", "pass s", "/ volume")], []
    runs = [("volume", "volume", None), ("census", "census", None)]
    if before:
        runs.append(("census (before)", "census", str(Path(before).resolve())))
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "ratio.toml"
        spec.write_text(RATIO_SPEC)
        for batch in batches:
            best: dict[str, tuple[float, dict]] = {}
            for _ in range(repeats):
                for name, command, tree in runs:
                    wall, out = command_seconds(command, spec, samples, batch, Path(tmp) / command, tree)
                    if name not in best or wall < best[name][0]:
                        best[name] = (wall, out)
            if len({best[n][1].get("distinct") for n in best if n != "volume"}) != 1:
                raise SystemExit("the censuses disagree on the number of distinct functions")
            fig = {"batch_size": batch, "samples": samples, "repeats": repeats,
                   "census_distinct": best["census"][1]["distinct"]}
            for name, (wall, out) in best.items():
                ratio = wall / best["volume"][0]
                rows.append((batch, name, f"{wall:.1f}", f"{samples / wall:,.0f}", f"{out['seconds']:.1f}",
                             f"{ratio:.3f}" if name != "volume" else ""))
                key = name.replace(" (before)", "_before")
                fig.update({f"{key}_wall_s": round(wall, 2), f"{key}_pass_s": round(out["seconds"], 2),
                            f"{key}_networks_per_s": round(samples / wall)})
                if name != "volume":
                    fig[f"{key}_over_volume"] = round(ratio, 3)
            figures.append(fig)
    print(f"5. census against volume: {samples:,} networks of a 7-40-40-1 relu MLP on 7 bits, best of {repeats} "
          "alternated runs each (wall: the whole command in a fresh process"
          + (f"; before: the census of {before}" if before else "") + ")")
    table(rows)
    if record:
        Path(record).write_text(json.dumps({
            "command": " ".join([Path(sys.executable).name] + sys.argv), "machine": platform.node(),
            "cpus": os.cpu_count(), "figures": figures}, indent=1) + "\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=24, help="log2 of the rows of part 2")
    p.add_argument("--flush", type=int, default=20, help="log2 of the rows per flush")
    p.add_argument("--big", type=int, default=30_000_000, help="distinct functions of part 3 (0: skip)")
    p.add_argument("--e2e", type=int, default=1 << 21, help="networks of part 4 (0: skip)")
    p.add_argument("--big-old", action="store_true", help="time the old merge at the scale of part 3 too (minutes)")
    p.add_argument("--skip-old", action="store_true", help="leave out the old census of part 2")
    p.add_argument("--ratio", type=int, default=1 << 20, help="networks of part 5")
    p.add_argument("--batch-sizes", default="4096,default", help="batch sizes of part 5 (comma separated)")
    p.add_argument("--repeats", type=int, default=2, help="alternated runs of each command in part 5")
    p.add_argument("--record", help="a JSON file to write part 5's figures to")
    p.add_argument("--before", help="part 5 also times the census of this source tree (the code before a change)")
    p.add_argument("--parts", default="1234", help="which parts to run (5: census against volume)")
    a = p.parse_args()
    if "4" in a.parts and a.e2e:
        import jax

        jax.config.update("jax_num_cpu_devices", os.cpu_count() or 1)  # as the command line does
    if not set(a.parts) & set("123"):
        rows = np.zeros((1 << a.flush, WORDS), np.uint32)
    else:
        rows = synthetic_rows(1 << a.rows)
    flushes = np.split(rows, len(rows) >> a.flush)
    if "1" in a.parts:
        bench_flush(flushes[-1])
    if "2" in a.parts:
        bench_census(flushes, a.skip_old)
    del rows
    if "3" in a.parts and a.big:
        bench_big(a.big, flushes[-1], a.big_old)
    del flushes
    if "4" in a.parts and a.e2e:
        bench_e2e(a.e2e)
    if "5" in a.parts:
        bench_ratio(a.ratio, a.batch_sizes.split(","), a.repeats, a.record, a.before)


if __name__ == "__main__":
    main()
