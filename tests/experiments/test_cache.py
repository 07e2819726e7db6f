"""A resumed experiment reads a finished pass's tables back instead of computing them again, only
for the same pass and experiment, and leaves nothing behind once the results are written."""


from functools import partial

import numpy as np
import pandas as pd
import pytest

import counting.experiments.base.run as base_run
from counting.engine.run import PassFacts
from counting.engine.tally import Hits
from counting.spec.job import sampling_spec
from counting.spec.model import MLPSpec
from counting.spec.prior import ScaledPrior


class Stop(Exception):
    pass


def toy_kind(calls, fail):
    """Two passes: hit-or-miss on a perceptron, then a job that fails while ``fail`` holds."""
    spec = sampling_spec(MLPSpec(n_inputs=2, widths=()), ScaledPrior(), samples=2048, chunk_size=1024)

    def job(options):
        if fail[0]:
            raise Stop()
        return 7, PassFacts(1, 1, 1, 1, 1, 0, 0.0, 0.0)

    def tables(config, name, result, facts):
        calls.append(name)
        return {"t": pd.DataFrame({"pass": [name], "value": [int(result)], "config": [config]})}

    def counts(name, result):
        return {f"{name}|value": np.array(int(result))}

    def passes(config):
        return [base_run.Pass("count", spec, Hits(lambda fwd: fwd.output[:, 0] > 0),
                              tables=partial(tables, config, "count"), counts=partial(counts, "count")),
                base_run.Pass("job", spec, None, job=job, tables=partial(tables, config, "job"),
                              counts=partial(counts, "job"))]

    return base_run.Kind("toy", from_dict=None, with_samples=None, chunk_sizes=lambda c: {"chunk": 1024},
                         passes=passes, write_figures=lambda tables, out, spec=None: [], summary=lambda c, t: "",
                         manifest_config=lambda c: {"config": c, "estimator": {"seed": 0}})


def test_resumed_run_reuses_the_tables_of_a_finished_pass(tmp_path):
    calls, fail = [], [True]
    kind, work = toy_kind(calls, fail), tmp_path / "work"
    with pytest.raises(Stop):
        base_run.run(kind, "a", work=work, progress=False)
    assert calls == ["count"] and (work / "count" / "tables").is_dir()
    fail[0] = False
    tables = base_run.run(kind, "a", out=tmp_path / "out", work=work, resume=True, progress=False)
    assert calls == ["count", "job"]  # the first pass's tables were read back, not computed again
    fresh = base_run.run(toy_kind([], fail), "a", work=tmp_path / "w2", progress=False)
    pd.testing.assert_frame_equal(tables["t"], fresh["t"])
    assert not any((work / n / "tables").exists() for n in ("count", "job"))  # cleared with the checkpoints


def test_tables_kept_for_another_experiment_are_not_reused(tmp_path):
    calls, fail = [], [True]
    kind, work = toy_kind(calls, fail), tmp_path / "work"
    with pytest.raises(Stop):
        base_run.run(kind, "a", work=work, progress=False)
    fail[0] = False
    tables = base_run.run(kind, "b", work=work, resume=True, progress=False)  # same passes, another config
    assert calls == ["count", "count", "job"]
    assert set(tables["t"]["config"]) == {"b"}
