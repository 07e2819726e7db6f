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

from counting.engine.census import Census
from counting.engine.run import RunOptions
from counting.estimators import ESTIMATORS, Estimate, Problem, estimate
from counting.jobs import census_job, estimate_volume, run_census, volume_job
from counting.mechanisms.predicates import Condition, all_of, any_of, computes, negate
from counting.mechanisms.sites import holds, holds_any
from counting.spec import Spec, SpecError, load_spec, parse_spec

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
