"""counting: volumes of parameter space that implement a function, under neural-network priors.

Data flow (one module per arrow)::

    spec (TOML) -> models + priors + domain -> sampler (chunked, sharded)
                -> predicates + sites (computes f, layer holds g; all_of / any_of / negate)
                -> estimators (hit-or-miss, census, exact, subset, smc, nngp) -> jobs (resume, progress)
                -> outputs -> experiments (llamaizer) -> plots

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

__version__ = "0.1.0"

from counting.estimators import Census, VolumeEstimate, volume_estimate  # noqa: E402
from counting.jobs import RunOptions, estimate_volume, run_census  # noqa: E402
from counting.predicates import Condition, all_of, any_of, computes, negate  # noqa: E402
from counting.sites import holds, holds_any  # noqa: E402
from counting.spec import Spec, SpecError, load_spec, parse_spec  # noqa: E402

__all__ = [
    "Census",
    "Condition",
    "all_of",
    "any_of",
    "computes",
    "holds",
    "holds_any",
    "negate",
    "RunOptions",
    "Spec",
    "SpecError",
    "VolumeEstimate",
    "estimate_volume",
    "load_spec",
    "parse_spec",
    "run_census",
    "volume_estimate",
]
