"""The engine: prior draws or enumerated configurations, evaluated chunk by chunk on every device,
reduced into exact tallies, with checkpoints and resume.

Modules, in data-flow order: :mod:`~counting.engine.priors` (scaled prior draws),
:mod:`~counting.engine.draws` (keys and parameter sources), :mod:`~counting.engine.enumeration`
(every configuration of a discrete prior), :mod:`~counting.engine.sharding` (the compiled step on
a device mesh), :mod:`~counting.engine.tally` (what a pass accumulates),
:mod:`~counting.engine.census` (the census result), :mod:`~counting.engine.checkpoint` and
:mod:`~counting.engine.run` (the pass itself), :mod:`~counting.engine.bench` (throughput).

Example:
    >>> from counting.engine import RunOptions, run_pass, Hits
    >>> RunOptions().checkpoint_seconds
    30.0
"""

from counting.engine.census import Census
from counting.engine.run import PassFacts, RunOptions, run_pass
from counting.engine.tally import CensusTally, Hits, Tally

__all__ = ["Census", "CensusTally", "Hits", "PassFacts", "RunOptions", "Tally", "run_pass"]
