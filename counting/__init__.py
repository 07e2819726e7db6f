"""counting: volumes of parameter space that implement a function, under neural-network priors.

Data flow (one place per arrow)::

    spec/ (TOML -> model, prior, target, estimator settings; one-line errors)
      -> models/ + engine/priors, engine/draws, engine/enumeration (parameters of each network)
      -> engine/sharding + engine/run (chunks over devices, checkpoints, resume) into a Tally
      -> mechanisms/ (computes f, layer holds g; all_of / any_of / negate) decide what counts
      -> estimators/ (mc | exact | subset | smc | nngp; rare/ and analytic/ underneath) -> Estimate
      -> jobs (volume, census) and experiments/ (llamaizer, ...) -> io/ (tables, manifest, report)

Example:
    >>> from counting import parse_spec, estimate_volume
    >>> spec = parse_spec('''
    ... [model]
    ... n_inputs = 2
    ... widths = []
    ... [target]
    ... name = "and"
    ... [estimator]
    ... samples = 4096
    ... chunk_size = 4096
    ... ''')
    >>> est = estimate_volume(spec)
    >>> est.samples, 0.02 < est.volume < 0.07    # exact volume is 1/24
    (4096, True)
"""

import importlib

# The public names and the modules that define them. They load on first use (PEP 562), so that
# ``counting`` on the command line starts, and takes its signal handlers, before jax is imported.
_HOMES = {
    "Census": "counting.engine.census",
    "RunOptions": "counting.engine.run",
    "ESTIMATORS": "counting.estimators",
    "Estimate": "counting.estimators",
    "Problem": "counting.estimators",
    "estimate": "counting.estimators",
    "census_job": "counting.jobs",
    "estimate_volume": "counting.jobs",
    "run_census": "counting.jobs",
    "volume_job": "counting.jobs",
    "Condition": "counting.mechanisms.predicates",
    "all_of": "counting.mechanisms.predicates",
    "any_of": "counting.mechanisms.predicates",
    "computes": "counting.mechanisms.predicates",
    "negate": "counting.mechanisms.predicates",
    "holds": "counting.mechanisms.sites",
    "holds_any": "counting.mechanisms.sites",
    "Spec": "counting.spec",
    "SpecError": "counting.spec",
    "load_spec": "counting.spec",
    "parse_spec": "counting.spec",
}


def __getattr__(name: str):
    if name in _HOMES:
        value = getattr(importlib.import_module(_HOMES[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'counting' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_HOMES))


__all__ = [
    "ESTIMATORS",
    "Census",
    "Condition",
    "Estimate",
    "Problem",
    "RunOptions",
    "Spec",
    "SpecError",
    "all_of",
    "any_of",
    "census_job",
    "computes",
    "estimate",
    "estimate_volume",
    "holds",
    "holds_any",
    "load_spec",
    "negate",
    "parse_spec",
    "run_census",
    "volume_job",
]
