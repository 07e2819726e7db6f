"""Command line: ``counting volume | census | run | merge | bench | report | complexity``. Thin: parse, look up, call, print.

Bad input (malformed TOML, unknown keys, out-of-range values, a flag that does not apply to the
chosen estimator) prints one line ``counting: error: FIELD: expected ...`` to stderr and exits
with status 2, writing nothing. The library names its options as it does (``batch_size``,
``out``, ``resume``: :class:`counting.spec.errors.OptionError`); :data:`FLAGS` gives the flag
each is set by here, and the line names the flag.

Example (shell)::

    counting volume experiments/quickstart.toml --json
    counting census experiments/quickstart.toml --top 5
    counting run experiments/llamaizer.toml --out results/llamaizer
    counting report results/llamaizer
    counting complexity 0xe8 --n 3
    counting census experiments/quickstart.toml --out /shared/q --coordinator h0:1234 --num-processes 2 --process-id 0
    counting merge /shared/q          # the parts of separate jobs (--num-processes 2 --process-id 0, then 1)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import sys
import time
from pathlib import Path

import counting.interrupt as interrupt
from counting.io.manifest import package_version, record_reproduce


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2
        hint = f"; see {self.prog} --help" if "required" in message or "invalid choice" in message else ""
        sys.stderr.write(f"counting: error: {message}{hint}\n")
        raise SystemExit(2)


def _devices_flag(p: argparse.ArgumentParser, default=argparse.SUPPRESS) -> None:
    p.add_argument("--devices", type=int, default=default, help="CPU devices to use (default: one per core)")


def _job_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", help="spec TOML file")
    _devices_flag(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--out", help="results folder (default runs/<spec name>-<command>-<hash of the spec>)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted job in --out")
    p.add_argument("--force", action="store_true", help="replace a finished result in --out")
    p.add_argument("--samples", type=int, help="override estimator.samples (kind 'mc')")
    p.add_argument("--seed", type=int, help="override estimator.seed")
    p.add_argument("--batch-size", type=int, help="networks vectorised at once (no effect on counts)")
    p.add_argument("--chunks-per-device", type=int, help="chunks per device per step (no effect on counts)")
    _progress_flags(p)
    _cluster_flags(p)


def _cluster_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--coordinator", help="HOST:PORT of process 0's jax.distributed coordinator (or "
                   "COUNTING_COORDINATOR); processes then run together and process 0 merges")
    p.add_argument("--num-processes", type=int, help="processes sharing the job's chunks (or COUNTING_NUM_PROCESSES)")
    p.add_argument("--process-id", type=int, help="this process, 0 to N-1 (or COUNTING_PROCESS_ID); without it "
                   "and without --coordinator: merge the N parts already written")


def _progress_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint-seconds", type=float, default=30.0, help="least time between checkpoints")
    p.add_argument("--no-progress", action="store_true", help="no progress bar or progress lines")
    p.add_argument("--progress-seconds", type=float, default=30.0,
                   help="time between progress lines when stderr is not a terminal (a log)")


EXAMPLES = {
    "volume": """examples:
  counting volume experiments/quickstart.toml
  counting volume experiments/quickstart.toml --seed 1 --samples 1000000 --json
  counting volume experiments/quickstart.toml --resume      # after Ctrl-C or a killed job

prints the volume with its 95% interval and a citable line ("cite: ..."); writes volume.parquet
and manifest.json to --out. On a folder holding the finished volume of this very spec, made by
this very code, it prints that stored result instead (saying so; --force recomputes it).
Ctrl-C or SIGTERM stops at a safe point (exit 130 / 143) and says whether a checkpoint was kept.""",
    "census": """examples:
  counting census experiments/quickstart.toml --top 5
  counting census experiments/quickstart.toml --samples 10000000 --json

prints the most frequent functions and the number of distinct ones; census.parquet in --out holds
every function seen with its rank, count, volume and 95% interval (the rank-frequency table).""",
    "merge": """examples:
  counting census experiments/quickstart.toml --out /shared/q --num-processes 2 --process-id 0   # host A
  counting census experiments/quickstart.toml --out /shared/q --num-processes 2 --process-id 1   # host B
  counting merge /shared/q

merges the parts of a volume or census job run as separate processes (each counted its own chunk
range into DIR/parts/part-I-of-N/) into DIR's result, exactly the counts of one process; then
prints what the job would have printed. For counting run, rerun it with --num-processes N and no
--process-id.""",
    "run": """examples:
  counting run experiments/llamaizer.toml --out results/llamaizer
  counting run experiments/llamaizer.toml --samples 4096 --out /tmp/small
  counting run experiments/llamaizer.toml --out results/llamaizer --resume

writes the experiment's tables, figures, raw counts and manifest to --out; checkpoints go to --work
while it runs. Unlike volume and census, run has no --json, --seed or --chunks-per-device (the
seed is the experiment file's).""",
    "bench": """examples:
  counting bench
  counting bench --seconds 10 --out results/bench

networks per second of the engine and of a straightforward baseline, each at the best of a sweep of
batch sizes (--seconds per size) on the same devices, their ratio and their fraction of the devices'
peak float32 rate, then a whole `counting census` process of the same network.""",
    "report": """examples:
  counting report results/llamaizer
  counting report results/enumeration --top 5
  counting report results --figures

prints each manifest's provenance, the citable line of a volume, and the first --top rows of every
table. With --figures it prints nothing of the tables: it draws the figures of DIR, and of every
experiment's results folder under it, again from their stored tables (no number changes), each
stamped with digests of its code and of its tables.""",
    "complexity": """examples:
  counting complexity 0xe8 --n 3
  counting complexity 0x6996 --n 4 --json
  counting complexity --all 4 --out results/complexity

prints every exact complexity measure of one function (Lempel-Ziv, sensitivity, Fourier and GF(2)
degree, spectral entropy, threshold, formula sizes, circuit depth, and min_weights: the fewest non-zero
weights and biases of a strict ternary threshold network with at most 4 hidden units); formula sizes,
circuit depth and min_weights need n <= 4. --all N writes complexity.parquet (one row per function of
N <= 4 bits) and manifest.json to --out; a finished folder is replaced only with --force.""",
}


COMPLEXITY_MAX_BITS = 12  # the models' limit on n_inputs

# the library's name of each option a command sets (an OptionError's option) -> what this command line calls it
FLAGS = {"out": "--out", "work": "--work", "resume": "--resume", "force": "--force", "samples": "--samples",
         "seed": "--seed", "batch_size": "--batch-size", "chunks_per_device": "--chunks-per-device",
         "checkpoint_seconds": "--checkpoint-seconds", "progress_seconds": "--progress-seconds",
         "devices": "--devices", "coordinator": "--coordinator", "processes": "--num-processes",
         "index": "--process-id"}
COMMAND_FLAGS = {"merge": {"out": "DIR"}}  # where a command names an option otherwise (merge's folder is DIR)


def error_line(e, command: str | None = None) -> str:
    """The one line a refusal prints: an :class:`~counting.spec.errors.OptionError` names the flag
    (or argument) of ``command`` that sets its option; any other error is printed as it is."""
    from counting.spec.errors import OptionError

    if isinstance(e, OptionError):
        return f"counting: error: {e.line({**FLAGS, **COMMAND_FLAGS.get(command, {})})}"
    return f"counting: error: {e}"


def _sub(sub, name: str, help: str) -> argparse.ArgumentParser:
    return sub.add_parser(name, help=help, description=help[0].upper() + help[1:] + ".", epilog=EXAMPLES[name],
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="counting", description="Volumes of parameter space that implement Boolean functions.",
                epilog="examples:\n  counting volume experiments/quickstart.toml\n  counting COMMAND --help",
                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"counting {package_version()}")
    _devices_flag(p, None)
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _job_flags(_sub(sub, "volume", "volume of the spec's target by the spec's estimator"))
    c = _sub(sub, "census", "count every function the spec's networks compute")
    _job_flags(c)
    c.add_argument("--top", type=int, default=10, help="functions to print")
    c.add_argument("--census-memory", type=int, help="bytes of distinct functions held in memory before they "
                   "spill to disk in --out (default: 1/8 of the available memory; no effect on counts)")
    e = _sub(sub, "run", "run an experiment file (tables, figures and a manifest)")
    e.add_argument("experiment", help="experiment TOML file")
    _devices_flag(e)
    e.add_argument("--out", help="results folder (default runs/<experiment name>)")
    e.add_argument("--work", help="folder for checkpoints while it runs (default runs/work/<experiment name>)")
    e.add_argument("--resume", action="store_true", help="continue an interrupted run from --work")
    e.add_argument("--force", action="store_true", help="replace a finished result in --out")
    e.add_argument("--samples", type=int, help="override the networks per architecture (and every override)")
    e.add_argument("--batch-size", type=int, help="networks vectorised at once (no effect on counts)")
    _progress_flags(e)
    _cluster_flags(e)
    m = _sub(sub, "merge", "merge the parts of a volume or census job run as separate processes")
    m.add_argument("dir", help="the job's results folder (holding parts/)")
    m.add_argument("--json", action="store_true", help="print one JSON object")
    m.add_argument("--top", type=int, default=10, help="functions to print (census)")
    m.add_argument("--force", action="store_true", help="replace a finished result in DIR")
    b = _sub(sub, "bench", "throughput of the engine against a straightforward baseline")
    b.add_argument("--json", action="store_true", help="print one JSON list")
    _devices_flag(b)
    b.add_argument("--seconds", type=float, default=2.0, help="time per batch size of each sweep")
    b.add_argument("--out", help="folder to record bench_<backend>.parquet and manifest_<backend>.json in")
    r = _sub(sub, "report", "print a results folder as tables")
    r.add_argument("dir", help="a results folder (holding manifest.json)")
    r.add_argument("--top", type=int, default=20, help="rows of each table to print")
    r.add_argument("--figures", action="store_true",
                   help="draw the figures of DIR and of every results folder under it again from the stored tables")
    x = _sub(sub, "complexity", "exact complexity measures of a Boolean function, or of every function of N bits")
    x.add_argument("truth_table", nargs="?", help="the function in hex, e.g. 0xe8 (with --n)")
    x.add_argument("--n", type=int, help=f"bits of the truth table (1 to {COMPLEXITY_MAX_BITS})")
    x.add_argument("--json", action="store_true", help="print one JSON object")
    x.add_argument("--all", type=int, metavar="N", help="every function of N <= 4 bits, to --out")
    x.add_argument("--out", help="folder to write complexity.parquet and manifest.json in (with --all)")
    x.add_argument("--force", action="store_true", help="replace a finished result in --out")
    return p


def _configure_devices(n: int | None) -> None:
    from counting.spec.errors import SpecError

    import jax

    want = n if n is not None else (os.cpu_count() or 1)
    if want < 1:
        raise SpecError("--devices", "a positive integer", want)
    jax.config.update("jax_num_cpu_devices", want)


def _positive(flag: str, value) -> None:
    from counting.spec.errors import SpecError

    if value is not None and value < 1:
        raise SpecError(flag, "a positive integer", value)


def _load(args, need_target: bool):
    from counting.spec.errors import SpecError
    from counting.io.files import check_folder
    from counting.io.folders import default_name
    from counting.engine.run import RunOptions
    from counting.spec.job import load_spec, with_overrides

    spec = _read_spec(args, need_target)
    overrides = {k: v for k, v in (("samples", args.samples), ("seed", args.seed)) if v is not None}
    spec = with_overrides(spec, **overrides)
    _timing_flags(args)
    _positive("--batch-size", args.batch_size)
    _positive("--chunks-per-device", args.chunks_per_device)
    chunk = getattr(spec.estimator, "chunk_size", None)
    if args.batch_size is not None and chunk is not None and chunk % args.batch_size:
        raise SpecError("--batch-size", f"a divisor of estimator.chunk_size={chunk}", args.batch_size)
    out = check_folder(Path(args.out) if args.out else
                       Path("runs") / default_name(Path(args.spec).stem, args.command, spec.to_json()))
    opts = RunOptions(out=out, resume=args.resume, batch_size=args.batch_size,
                      chunks_per_device=args.chunks_per_device, checkpoint_seconds=args.checkpoint_seconds,
                      progress=False if args.no_progress else None, progress_seconds=args.progress_seconds,
                      **({} if args.cluster is None else {"cluster": args.cluster}))
    if opts.cluster.multi and spec.estimator.kind not in ("mc", "exact"):
        raise SpecError("--num-processes", "a job of estimator kind 'mc' or 'exact' (a counting pass, split by chunk)",
                        spec.estimator.kind)
    args.saved_in = [out]
    _record_reproduce(args, args.spec, ("--samples", args.samples), ("--seed", args.seed), _out_flag(args.out))
    return spec, opts


def _toml_tables(path: str) -> set[str]:
    """The top-level keys of a TOML file (empty when it cannot be read: the parser says why)."""
    import tomllib

    try:
        return set(tomllib.loads(Path(path).read_text()))
    except (OSError, ValueError):
        return set()


def _read_spec(args, need_target: bool):
    """The spec file; an experiment file given to volume or census is pointed to ``counting run``."""
    from counting.spec.errors import SpecError
    from counting.spec.job import load_spec

    try:
        return load_spec(args.spec, need_target=need_target)
    except SpecError:
        if "experiment" in _toml_tables(args.spec):
            raise SpecError("spec", f"a spec ([model], [prior], [target], [estimator]), not an experiment file "
                            f"([experiment]): run it with: {shlex.join(['counting', 'run', args.spec])}",
                            args.spec) from None
        raise


def _out_flag(out: str | None) -> tuple[str, str | None]:
    """``--out`` as the reproduce command names it: a folder inside the working folder (``results/X``)
    by its relative path; the default folder (implied by the spec) and one elsewhere (``/tmp/x``, not
    in a fresh checkout) are left out."""
    if out is None:
        return ("--out", None)
    rel = os.path.relpath(Path(out).resolve())
    return ("--out", None if rel == os.pardir or rel.startswith(os.pardir + os.sep) else rel)


def _timing_flags(args) -> None:
    from counting.spec.errors import SpecError

    if not args.checkpoint_seconds >= 0:
        raise SpecError("--checkpoint-seconds", "a number >= 0", args.checkpoint_seconds)
    if not args.progress_seconds > 0:
        raise SpecError("--progress-seconds", "a positive number", args.progress_seconds)


def _record_reproduce(args, path: str | None, *options: tuple[str, object]) -> None:
    """Remember the command that reproduces this job (it goes into the manifest and the citable line):
    the command, its file and the options that change the result, ``--out`` among them where it names
    a folder inside the working folder."""
    from counting.io.citation import reproduce_command

    flags = [str(x) for flag, value in options if value is not None for x in (flag, value)]
    record_reproduce(reproduce_command(args.command, path, flags))


def cmd_volume(args) -> int:
    from counting.engine.distributed import held, write_job
    from counting.jobs import volume_job

    spec, opts = _load(args, need_target=True)
    stored = _stored_volume(args, spec, opts)
    if stored is not None:
        return stored
    with held(opts.out, opts.cluster, force=args.force, resume=args.resume):
        write_job(opts.out, opts.cluster, "volume", spec.to_dict())
        est = volume_job(spec, options=opts)
    return _print_volume(args, spec, est, opts)


def _stored_volume(args, spec, opts) -> int | None:
    """A finished result of this very spec, made by this very code, in ``--out``: printed as it is
    stored, with one line saying so (the reproduce command, pasted where the result lies, prints the
    number instead of a refusal). ``None`` when there is none to print: the job runs, or is refused
    (a result of another spec names the field that differs; one of other code names both commits)."""
    from counting.estimators.result import Estimate
    from counting.io.folders import LOCK, MANIFEST, finished
    from counting.io.manifest import same_code
    from counting.spec.errors import SpecError

    out = opts.out
    if args.force or args.resume or opts.cluster.multi or not finished(out) or (out / LOCK).exists():
        return None  # a job to run, or to refuse as before (a lock: a job may be replacing the result)
    try:
        m = json.loads((out / MANIFEST).read_text())
        est = Estimate.from_dict(m["result"])
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None  # not a volume this can read: refused as any finished folder
    if m.get("kind") != "volume":
        return None
    here = json.loads(json.dumps(spec.to_dict()))
    if m.get("spec") != here:
        raise SpecError("--out", f"a folder without a finished result, or with this spec's (it holds another "
                        f"spec's: {_first_difference(m.get('spec'), here)} differs; --force replaces it, "
                        "--out NEWDIR writes elsewhere)", str(out))
    differs = same_code(m)
    if differs:
        raise SpecError("--out", f"a folder without a finished result, or with this spec's made by this code (it "
                        f"holds this spec's result {differs}; --force recomputes it, --out NEWDIR writes "
                        "elsewhere)", str(out))
    note = (f"stored result, not recomputed: same spec and code, made {m.get('created', '?')}, in {out}/ "
            f"(--force recomputes it there, --out NEWDIR elsewhere)")
    if args.json:
        sys.stderr.write(f"counting: {note}\n")
    else:
        print(note)
    return _print_volume(args, spec, est, opts)


def _first_difference(a, b, where: str = "") -> str:
    """The first field (``estimator.samples``) in which two spec tables differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if a.get(k) != b.get(k):
                return _first_difference(a.get(k), b.get(k), f"{where}.{k}" if where else k)
    return where or "the spec"


def _print_volume(args, spec, est, opts) -> int:
    from counting.io.report import volume_text

    print(volume_text(spec, est, opts.out, args.json))
    return 0


def cmd_census(args) -> int:
    from counting.spec.errors import SpecError
    from counting.engine.distributed import held, write_job
    from counting.jobs import census_job

    if args.top < 1:
        raise SpecError("--top", "a positive integer", args.top)
    _positive("--census-memory", args.census_memory)
    spec, opts = _load(args, need_target=False)
    with held(opts.out, opts.cluster, force=args.force, resume=args.resume):
        write_job(opts.out, opts.cluster, "census", spec.to_dict())
        census, facts = census_job(spec, options=opts, memory=args.census_memory)
    return _print_census(args, spec, census, facts, opts)


def _print_census(args, spec, census, facts, opts) -> int:
    from counting.io.report import census_text

    print(census_text(spec, census, facts, opts.out, args.top, args.json))
    return 0


def cmd_merge(args) -> int:
    from counting.engine.distributed import Cluster, read_job
    from counting.engine.run import RunOptions
    from counting.io.files import check_folder
    from counting.io.folders import hold
    from counting.jobs import census_job, volume_job
    from counting.spec.job import spec_from_dict

    _positive("--top", args.top)
    out = Path(args.dir)
    job = read_job(out)
    check_folder(out)
    spec = spec_from_dict(job["spec"], need_target=job["command"] == "volume")
    opts = RunOptions(out=out, progress=False, cluster=Cluster(job["processes"], None))
    args.saved_in = [out]
    with hold(out, force=args.force):
        if job["command"] == "volume":
            return _print_volume(args, spec, volume_job(spec, options=opts), opts)
        census, facts = census_job(spec, options=opts)
    return _print_census(args, spec, census, facts, opts)


def cmd_run(args) -> int:
    from counting.spec.errors import SpecError
    from counting.io.files import check_folder
    from counting.io.folders import finished, hold, remove_empty
    from counting.experiments import check_batch_size, load_experiment, run_experiment, summary, with_samples

    try:
        config = load_experiment(args.experiment)
    except SpecError:
        tables = _toml_tables(args.experiment)
        if tables and tables <= {"model", "prior", "target", "estimator", "training"}:  # a spec's tables only
            raise SpecError("experiment", "an experiment file ([experiment], ...), not a spec ([model], [target], "
                            "...): count it with: " + shlex.join(["counting", "volume", args.experiment]) + " (or "
                            "census)", args.experiment) from None
        raise
    if args.samples is not None:
        _positive("--samples", args.samples)
        config = with_samples(config, args.samples)
    check_batch_size(config, args.batch_size)
    _timing_flags(args)
    stem = Path(args.experiment).stem
    out = check_folder(Path(args.out) if args.out else Path("runs") / stem)
    work = check_folder(Path(args.work) if args.work else Path("runs") / "work" / stem, "work")
    args.saved_in = [work, out]
    if finished(out) and not args.force:
        raise SpecError("--out", f"a folder without a finished result (--force replaces it; counting report {out} "
                        "shows it)", str(out))
    _record_reproduce(args, args.experiment, ("--samples", args.samples), _out_flag(args.out))
    from counting.engine.distributed import Cluster

    c = args.cluster or Cluster()
    with contextlib.ExitStack() as held:
        if c.merges:
            held.enter_context(hold(out, force=args.force))
            held.enter_context(hold(work, force=True, option="work"))
        else:
            held.enter_context(hold(work / f"process-{c.index}-of-{c.processes}", force=True, option="work"))
        result = run_experiment(config, out=out, work=work, resume=args.resume,
                                progress=False if args.no_progress else None, batch_size=args.batch_size,
                                checkpoint_seconds=args.checkpoint_seconds, progress_seconds=args.progress_seconds,
                                cluster=c)
    remove_empty(work)  # the passes' folders, emptied of their checkpoints (and the work folder, if empty)
    print(summary(config, result))
    print(f"tables and figures in {out}/")
    return 0


def cmd_bench(args) -> int:
    from counting.spec.errors import SpecError
    from counting.io.files import check_folder
    from counting.engine.bench import bench_lines, run_bench, write_bench

    if not args.seconds > 0:
        raise SpecError("--seconds", "a positive number", args.seconds)
    if args.out:
        check_folder(Path(args.out))
        _record_reproduce(args, None, ("--seconds", None if args.seconds == 2.0 else f"{args.seconds:g}"),
                          _out_flag(args.out))
    rows = run_bench(seconds=args.seconds)
    if args.out:
        write_bench(Path(args.out), rows, args.seconds)
    if args.json:
        print(json.dumps(rows))
        return 0
    print("\n".join(bench_lines(rows)))
    return 0


def cmd_report(args) -> int:
    from counting.io.report import render

    _positive("--top", args.top)
    if args.figures:
        from counting.experiments import figure_folders, redraw_figures
        from counting.spec.errors import SpecError

        folders = figure_folders(args.dir)
        if not folders:
            raise SpecError("dir", "an experiment's results folder with figures, or a folder holding some", args.dir)
        for folder in folders:
            kept, unlisted = redraw_figures(folder)
            left = f" (not drawn: {', '.join(unlisted)}, which its manifest does not list)" if unlisted else ""
            print(f"{folder}/: {', '.join(kept)}{left}")
        return 0
    print(render(args.dir, args.top))
    return 0


def cmd_complexity(args) -> int:
    from counting.spec.errors import SpecError

    if (args.truth_table is None) == (args.all is None):
        raise SpecError("truth_table", "exactly one of a truth table or --all N",
                        "both" if args.all is not None else "neither")
    if args.all is not None:
        return _complexity_all(args)
    if args.out is not None or args.force:
        raise SpecError("--out" if args.out is not None else "--force",
                        "no --out or --force without --all (one function is only printed)", args.out or True)
    if args.n is None:
        raise SpecError("--n", f"the number of bits of the truth table {args.truth_table} (an integer from 1 to "
                        f"{COMPLEXITY_MAX_BITS}{_bits_hint(args.truth_table)})")
    if isinstance(args.n, bool) or not 1 <= args.n <= COMPLEXITY_MAX_BITS:
        raise SpecError("--n", f"an integer from 1 to {COMPLEXITY_MAX_BITS} (the bits of the truth table)", args.n)
    from counting.spec.target import parse_truth_table

    tt = parse_truth_table(args.truth_table, args.n, "truth_table")
    from counting.boolean.complexity import measures

    m = measures(tt, args.n)
    if args.json:
        print(json.dumps({"n": args.n, **m}))
        return 0
    from counting.io.report import complexity_lines

    print("\n".join(complexity_lines(m, args.n)))
    return 0


def _bits_hint(table: str) -> str:
    """For a hex truth table, the bits its digits fit: ``'; 0xe8 has 2 hex digits: --n 3'``."""
    digits = table[2:].replace("_", "") if table.lower().startswith("0x") else ""
    if not digits or any(c not in "0123456789abcdefABCDEF" for c in digits):
        return ""
    fits = [n for n in range(1, COMPLEXITY_MAX_BITS + 1) if max(1, 2 ** n // 4) == len(digits)]
    say = " or ".join(f"--n {n}" for n in fits)
    return f"; {table} has {len(digits)} hex digit{'s' if len(digits) > 1 else ''}: {say}" if fits else ""


def _complexity_all(args) -> int:
    from counting.spec.errors import SpecError
    from counting.io.files import check_folder, write_json, write_parquet
    from counting.io.folders import MANIFEST, hold
    from counting.io.manifest import manifest

    if args.n is not None:
        raise SpecError("--n", "no --n with --all N (N is the number of bits)", args.n)
    if not 1 <= args.all <= 4:
        raise SpecError("--all", "an integer from 1 to 4 (N bits have 2**(2**N) functions: 2**32 for N = 5, "
                        "too many to enumerate)", args.all)
    if args.out is None:
        raise SpecError("--out", "a folder to write complexity.parquet in (--all needs --out)", None)
    out = check_folder(Path(args.out))
    args.saved_in = [out]
    _record_reproduce(args, None, ("--all", args.all), _out_flag(args.out))
    from counting.boolean.complexity import all_measures

    with hold(out, force=args.force):
        start = time.perf_counter()
        table = all_measures(args.all)
        seconds = time.perf_counter() - start
        write_parquet(out / "complexity.parquet", table)
        write_json(out / MANIFEST, manifest("complexity", {"n": args.all}, {"functions": len(table),
                                            "seconds": seconds}, {"seconds": seconds}, ["complexity.parquet"]))
    if args.json:
        print(json.dumps({"n": args.all, "rows": len(table), "out": str(out / "complexity.parquet")}))
        return 0
    print(f"{len(table):,} functions of {args.all} bits, every measure, in {out / 'complexity.parquet'}")
    return 0


COMMANDS = {"volume": cmd_volume, "census": cmd_census, "run": cmd_run, "merge": cmd_merge, "bench": cmd_bench,
            "report": cmd_report, "complexity": cmd_complexity}


def _stopped(e, args, argv: list[str], since: float = float("inf")) -> str:
    """The one line an interrupted job prints: what was kept, and how to continue (``since``: when
    this process started; a result finished after it is this job's own)."""
    saved = [Path(f) for f in getattr(args, "saved_in", [])]
    nothing = f"counting: stopped by {e.name} before anything was saved; nothing was written"
    if not saved:  # no job folder yet (start-up, a refused spec): nothing to look at
        return nothing
    from counting.io.folders import MANIFEST, checkpoints, finished

    held = [(f, cks) for f in saved if (cks := checkpoints(f))]
    if held:
        f, cks = held[0]
        where = cks[0].parent if len(cks) == 1 else f  # an experiment's passes: their work folder
        again = shlex.join(["counting", *argv, *([] if "--resume" in argv else ["--resume"])])
        return (f"counting: stopped by {e.name}; the work done is checkpointed in {where}/, "
                f"continue with: {again}")
    done = [f for f in saved if f.is_dir() and finished(f)
            and (getattr(args, "completed", False) or (f / MANIFEST).stat().st_mtime >= since - 2)]  # 2 s: coarse file clocks
    if done:
        return f"counting: stopped by {e.name} after the job finished; its result is complete in {done[-1]}/"
    return nothing


# the variables counting.engine.distributed reads (named here so that a command without them imports nothing)
CLUSTER_ENV = ("COUNTING_COORDINATOR", "COUNTING_NUM_PROCESSES", "COUNTING_PROCESS_ID")


def _cluster(args):
    """This process's place in a job of several (flags first, then COUNTING_* variables), checked
    before any work; ``None`` (one process) where none is given or the command takes none."""
    given = (getattr(args, "coordinator", None), getattr(args, "num_processes", None), getattr(args, "process_id", None))
    if not hasattr(args, "num_processes") or (given == (None, None, None) and not any(map(os.environ.get, CLUSTER_ENV))):
        return None
    from counting.engine.distributed import cluster_from

    return cluster_from(*given, os.environ)


def _join(cluster) -> None:
    if cluster is not None:
        from counting.engine.distributed import initialize

        initialize(cluster)


def _coordinated(holder: dict) -> bool:
    cluster = getattr(holder.get("args"), "cluster", None)
    return cluster is not None and cluster.multi and cluster.coordinator is not None


def _failed(holder: dict, code: int) -> int:
    """A failed process of a coordinated job leaves at once: jax's shutdown would wait for the others,
    who wait for its part; gone, its heartbeat stops and jax ends the others with an error."""
    if _coordinated(holder):
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(code)
    return code


def _dispatch(argv: list[str], holder: dict) -> int:
    from counting.spec.errors import SpecError

    try:
        args = holder["args"] = build_parser().parse_args(argv)
        args.cluster = _cluster(args)
        if args.command not in ("report", "complexity"):
            _configure_devices(args.devices)
            _join(args.cluster)
        code = COMMANDS[args.command](args)
    except SpecError as e:
        sys.stderr.write(error_line(e, getattr(holder.get("args"), "command", None)) + "\n")
        return _failed(holder, 2)
    except Exception as e:
        from counting.engine.distributed import PartDone

        if not isinstance(e, PartDone):
            if _coordinated(holder):
                import traceback

                traceback.print_exc()
                _failed(holder, 1)
            raise
        if args.cluster.coordinator:
            print(f"counting: {e}; process 0 finishes the job")
        elif args.command == "run":
            print(f"counting: {e}; once every part is written: the same command with --num-processes "
                  f"{args.cluster.processes} and no --process-id")
        else:
            merge = shlex.join(["counting", "merge", str(args.saved_in[0])])
            print(f"counting: {e}; once every part is written: {merge}")
        return 0
    if interrupt.requested():  # the signal came as the last step finished: the result is whole
        args.completed = True
        interrupt.check()
    return code


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    holder: dict = {}
    since = time.time()
    # first, before the heavy imports: a signal from here on gives one line
    restore = interrupt.install(lambda e: _stopped(e, holder.get("args"), argv, since))
    try:
        return _dispatch(argv, holder)
    except interrupt.Interrupted as e:  # raised at a loop's safe point, its checkpoint saved
        # one line, then leave at once: no teardown of half-started devices or threads
        interrupt.stop_now(e.signum)
    except BrokenPipeError:  # the reader stopped early (``counting report DIR | head``)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        restore()
        record_reproduce(None)  # this command's, not the next one's (main called again in one process)


if __name__ == "__main__":
    raise SystemExit(main())
