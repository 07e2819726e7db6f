"""P(f | S) from a census restricted to the networks that agree with the target on S.

A census whose tally keeps only the networks agreeing with the target on S (``[training]
condition_on_train``, :func:`counting.training.data.agrees_on_set` as its ``where``) counts
``n(f)`` among ``kept`` accepted networks out of ``drawn``. Over prior draws (``posterior = true``)
``n(f) / kept`` is the Bayesian posterior P_B(f | S) by rejection; over trained networks it is
P_SGD(f | S), the share of the runs that fit S ending on ``f``. Given ``kept``, ``n(f)`` is
binomial, so each P(f | S) gets the census's own Clopper-Pearson interval with ``kept`` trials
(:meth:`counting.engine.census.Census.frame` of the census counted over ``kept``).

Example:
    >>> import numpy as np
    >>> from counting.engine.census import Census
    >>> c = Census(np.array([[1], [2]], np.uint32), np.array([30, 10]), 2, drawn=100)
    >>> t = given_s_frame(c)
    >>> t.volume.tolist(), t.p_given_s.tolist(), bool((t.p_given_s_ci95_lo < np.log10(t.p_given_s)).all())
    ([0.3, 0.1], [0.75, 0.25], True)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from counting.engine.census import Census


def given_s_frame(census: Census, conf: float = 0.95) -> pd.DataFrame:
    """``census.frame()`` (volumes over every network drawn) with ``p_given_s`` (count over the
    networks kept), its ``log10`` and its interval ``p_given_s_ci95_lo`` / ``_hi`` (log10)."""
    table = census.frame(conf=conf)
    if census.kept == 0:
        for c in ("p_given_s", "log10_p_given_s", "p_given_s_ci95_lo", "p_given_s_ci95_hi"):
            table[c] = np.zeros(0)
        return table
    given = Census(census.tables, census.counts, census.n_inputs).frame(conf=conf)  # the same row order
    table["p_given_s"] = given["volume"].to_numpy()
    table["log10_p_given_s"] = given["log10_volume"].to_numpy()
    table["p_given_s_ci95_lo"] = given["ci95_lo"].to_numpy()
    table["p_given_s_ci95_hi"] = given["ci95_hi"].to_numpy()
    return table
