"""Command line: ``counting volume | census | run | bench | report``.

Bad input (malformed TOML, unknown keys, out-of-range values) prints one line
``counting: error: FIELD: expected ...`` to stderr and exits with status 2, writing nothing.

Example (shell)::

    counting volume experiments/quickstart.toml --json
    counting census experiments/quickstart.toml --top 5
    counting run experiments/llamaizer.toml --out results/llamaizer
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from counting.spec import SpecError


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2
        sys.stderr.write(f"counting: error: {message}\n")
        raise SystemExit(2)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", help="spec TOML file")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--out", help="results folder (default runs/<spec name>-<command>)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted job in --out")
    p.add_argument("--samples", type=int, help="override estimator.samples")
    p.add_argument("--seed", type=int, help="override estimator.seed")
    p.add_argument("--batch-size", type=int, help="networks vectorised at once (no effect on counts)")
    p.add_argument("--chunks-per-device", type=int, help="chunks per device per step (no effect on counts)")
    p.add_argument("--checkpoint-seconds", type=float, default=30.0, help="least time between checkpoints")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="counting", description="Volumes of parameter space that implement Boolean functions.")
    p.add_argument("--devices", type=int, help="CPU devices to use (default: one per core)")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _common(sub.add_parser("volume", help="hit-or-miss volume of the spec's target"))
    c = sub.add_parser("census", help="count every function seen")
    _common(c)
    c.add_argument("--top", type=int, default=10, help="functions to print")
    e = sub.add_parser("run", help="run an experiment file (tables, figures and a manifest)")
    e.add_argument("experiment", help="experiment TOML file")
    e.add_argument("--out", help="results folder (default runs/<experiment name>)")
    e.add_argument("--work", help="folder for checkpoints while it runs (default runs/work/<experiment name>)")
    e.add_argument("--resume", action="store_true", help="continue an interrupted run from --work")
    e.add_argument("--samples", type=int, help="override the networks per architecture (and every override)")
    e.add_argument("--batch-size", type=int, help="networks vectorised at once (no effect on counts)")
    e.add_argument("--checkpoint-seconds", type=float, default=30.0, help="least time between checkpoints")
    e.add_argument("--no-progress", action="store_true", help="no progress bar")
    b = sub.add_parser("bench", help="throughput against a straightforward baseline")
    b.add_argument("--json", action="store_true")
    b.add_argument("--seconds", type=float, default=5.0, help="time per measurement")
    b.add_argument("--out", help="folder to record bench.parquet and manifest.json in")
    r = sub.add_parser("report", help="print a results folder as a table")
    r.add_argument("dir")
    r.add_argument("--top", type=int, default=20)
    return p


def _configure_devices(n: int | None) -> None:
    import jax

    want = n if n is not None else (os.cpu_count() or 1)
    if want < 1:
        raise SpecError("--devices", "a positive integer", want)
    jax.config.update("jax_num_cpu_devices", want)


def _load(args, need_target: bool):
    from counting.jobs import RunOptions
    from counting.spec import load_spec, with_estimator

    spec = load_spec(args.spec, need_target=need_target)
    overrides = {k: v for k, v in (("samples", args.samples), ("seed", args.seed)) if v is not None}
    spec = with_estimator(spec, **overrides)
    if not args.checkpoint_seconds >= 0:
        raise SpecError("--checkpoint-seconds", "a number >= 0", args.checkpoint_seconds)
    for flag, value in (("--batch-size", args.batch_size), ("--chunks-per-device", args.chunks_per_device)):
        if value is not None and value < 1:
            raise SpecError(flag, "a positive integer", value)
    if args.batch_size is not None and spec.estimator.chunk_size % args.batch_size:
        raise SpecError("--batch-size", f"a divisor of estimator.chunk_size={spec.estimator.chunk_size}",
                        args.batch_size)
    out = Path(args.out) if args.out else Path("runs") / f"{Path(args.spec).stem}-{args.command}"
    if out.exists() and not out.is_dir():
        raise SpecError("--out", "a folder", str(out))
    opts = RunOptions(out=out, resume=args.resume, batch_size=args.batch_size,
                      chunks_per_device=args.chunks_per_device, checkpoint_seconds=args.checkpoint_seconds,
                      progress=False if args.no_progress else None)
    return spec, opts


def _describe(spec) -> str:
    m, pr = spec.model, spec.prior
    arch = (f"{m.n_inputs}-" + "".join(f"{w}-" for w in m.widths) + "1 mlp" if m.kind == "mlp"
            else f"resmlp n={m.n_inputs} width={m.width} depth={m.depth} hidden={m.hidden}")
    scale = (f"integers -{pr.max_abs}..{pr.max_abs}" if pr.discrete
             else f"sigma_w={pr.sigma_w:g}, sigma_b={pr.sigma_b:g}")
    return f"{arch}, {m.activation}, {pr.kind} prior ({scale})"


def _fmt(x) -> str:
    return "null" if x is None else f"{x:.3f}"


def cmd_volume(args) -> int:
    from counting.jobs import target_truth_table, volume_job
    from counting.truth import to_hex

    spec, opts = _load(args, need_target=True)
    est, run = volume_job(spec, options=opts)
    tt = to_hex(target_truth_table(spec), spec.model.n_inputs)
    d = {**est.as_dict(), "seconds": run["seconds"], "seed": spec.estimator.seed, "target": tt,
         "out": str(opts.out)}
    if args.json:
        print(json.dumps(d))
        return 0
    print(f"target {tt} on {_describe(spec)}")
    if est.estimator in ("subset", "smc", "nngp"):
        print(f"volume {est.volume:.4g} = 10^{_fmt(est.log10_volume)}, 95% CI 10^[{_fmt(est.ci95[0])}, "
              f"{_fmt(est.ci95[1])}]  ({est.estimator}, {d['samples']:,} "
              f"{'orthant-integrand' if est.estimator == 'nngp' else 'network'} evaluations)")
    elif est.estimator == "exact":
        print(f"volume {est.volume:.6g} = 10^{_fmt(est.log10_volume)} exactly ({est.hits:,} of "
              f"{est.samples:,} configurations)")
    elif est.hits == 0:
        print(f"volume: no hits in {est.samples:,} networks; 95% upper bound 10^{_fmt(est.ci95[1])}"
              f" = {10 ** est.ci95[1]:.3g}")
    else:
        print(f"volume {est.volume:.4g} = 10^{_fmt(est.log10_volume)}, 95% CI 10^[{_fmt(est.ci95[0])}, "
              f"{_fmt(est.ci95[1])}]  ({est.hits:,} hits / {est.samples:,} networks)")
    print(f"seed {spec.estimator.seed}, {run['seconds']:.1f} s, results in {opts.out}/")
    return 0


def cmd_census(args) -> int:
    from counting.jobs import census_job

    if args.top < 1:
        raise SpecError("--top", "a positive integer", args.top)
    spec, opts = _load(args, need_target=False)
    census, run = census_job(spec, options=opts)
    top = census.top(args.top)
    if args.json:
        print(json.dumps({"estimator": "census", "samples": census.samples, "distinct": census.distinct,
                          "seconds": run["seconds"], "seed": spec.estimator.seed, "out": str(opts.out),
                          "top": top.to_dict(orient="records")}))
        return 0
    what = "exact enumeration of" if census.exact else "census of"
    print(f"{what} {census.samples:,} networks: {_describe(spec)}")
    print(f"{census.distinct:,} distinct functions; seed {spec.estimator.seed}, {run['seconds']:.1f} s")
    print(top.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"results in {opts.out}/ (census.parquet: every function with its count, rank and 95% CI)")
    return 0


def cmd_run(args) -> int:
    import dataclasses

    from counting.llamaizer import load_experiment, run_experiment

    exp = load_experiment(args.experiment)
    if args.samples is not None:
        if args.samples < 1:
            raise SpecError("--samples", "a positive integer", args.samples)
        exp = dataclasses.replace(exp, samples=args.samples, architectures=tuple(
            dataclasses.replace(a, samples=None) for a in exp.architectures))
    if args.batch_size is not None and (args.batch_size < 1 or exp.chunk_size % args.batch_size):
        raise SpecError("--batch-size", f"a divisor of experiment.chunk_size={exp.chunk_size}", args.batch_size)
    if not args.checkpoint_seconds >= 0:
        raise SpecError("--checkpoint-seconds", "a number >= 0", args.checkpoint_seconds)
    stem = Path(args.experiment).stem
    out = Path(args.out) if args.out else Path("runs") / stem
    work = Path(args.work) if args.work else Path("runs") / "work" / stem
    if out.exists() and not out.is_dir():
        raise SpecError("--out", "a folder", str(out))
    result = run_experiment(exp, out=out, work=work, resume=args.resume,
                            progress=False if args.no_progress else None, batch_size=args.batch_size,
                            checkpoint_seconds=args.checkpoint_seconds)
    vol = result["volumes"]
    print(vol[["architecture", "target", "orbit_hits", "samples", "log10_volume", "ci95_lo", "ci95_hi"]]
          .to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"tables and figures in {out}/")
    return 0


def cmd_bench(args) -> int:
    import pandas as pd

    from counting.bench import run_bench
    from counting.outputs import manifest, write_json, write_parquet

    if not args.seconds > 0:
        raise SpecError("--seconds", "a positive number", args.seconds)
    rows = run_bench(seconds=args.seconds)
    if args.out:
        out = Path(args.out)
        import jax

        tag = f"{jax.default_backend()}"
        write_parquet(out / f"bench_{tag}.parquet", pd.DataFrame(rows))
        spec = {"estimator": {"seed": 0, "key_impl": "threefry2x32"}, "workload": "7-40-40-1 relu census"}
        write_json(out / f"manifest_{tag}.json",
                   manifest("bench", spec, {"seconds_per_measurement": args.seconds}, {}, [f"bench_{tag}.parquet"])
                   | {"result": rows})
    if args.json:
        print(json.dumps(rows))
        return 0
    for r in rows:
        print(f"{r['networks_per_second']:>12,.0f} networks/s  x{r['ratio_to_baseline']:.2f}  "
              f"{r['devices']} {r['device_kind']} device(s)  {r['workload']}")
    return 0


def cmd_report(args) -> int:
    import pandas as pd

    d = Path(args.dir)
    mpath = d / "manifest.json"
    if not mpath.exists():
        raise SpecError("dir", "a results folder holding manifest.json", str(d))
    m = json.loads(mpath.read_text())
    print(f"{m['kind']} job, seed {m['seed']}, {m['run']['samples']:,} samples, "
          f"{m['environment']['device_count']} x {m['environment']['device_kind']}, "
          f"commit {(m['environment']['git']['commit'] or 'unknown')[:10]}")
    for f in m["files"]:
        df = pd.read_parquet(d / f)
        print(df.head(args.top).to_markdown(index=False) if hasattr(df, "to_markdown") and _has_tabulate()
              else df.head(args.top).to_string(index=False))
    return 0


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401

        return True
    except ImportError:
        return False


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command != "report":
            _configure_devices(args.devices)
        return {"volume": cmd_volume, "census": cmd_census, "run": cmd_run, "bench": cmd_bench,
                "report": cmd_report}[
            args.command
        ](args)
    except SpecError as e:
        sys.stderr.write(f"counting: error: {e}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("counting: interrupted; continue with --resume\n")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
