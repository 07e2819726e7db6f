"""The llama-rare experiment's tables: ``volumes`` (one row per volume and method) and ``costs``.

* ``volumes``: per width and condition, the SMC estimate (``method = smc``: log10 volume, 95%
  Student-t interval over replicates, each replicate's log10, their spread, the settings, the
  mean number of stages, ``log10_bound``, network evaluations in ``cost``) and, where the width has
  a hit-or-miss pass, its estimate (``method = mc``: Clopper-Pearson 95%, zero hits the one-sided
  upper bound, ``hits``). At a width whose estimator is the readout, the volumes that include the
  target are ``method = readout`` rows (:func:`readout_row`: the normal 95% interval of the mean of
  ``P(f | hidden)``, networks in ``cost``, and the diagnostics ``khat``, ``khat_threshold``,
  ``reliable``, ``max_share``, ``ess``, ``zero_networks``, ``warning``).
* ``costs``: per width, llama and layer, the cost in bits ``-log2 V(f and g) / V(f)``, three ways:
  ``smc-share``, the share of V(f)'s last SMC populations (networks computing f, drawn as the
  prior restricted to f as far as the moves mix) holding the llama, with a t-interval over
  replicates; ``smc``, from the two independent SMC volumes, its interval joining theirs end to
  end (:func:`counting.experiments.base.shares.volumes_cost`: it covers whenever both do);
  ``mc``, the share ``n_f_and_g / n_f`` of the hit-or-miss pass with its Clopper-Pearson interval;
  at a readout width, ``readout``: the share ``V(f and g) / V(f)`` of one readout pass, both means
  over the same networks, with the paired delta-method interval
  (:func:`counting.estimators.readout.restricted_share`; ``ci_method = "paired delta"``) and both
  volumes' diagnostics (``khat_f``, ``khat_f_and_g``, ``max_share_f_and_g``; ``reliable`` when both are);
  and, where a readout width measures a hidden-only volume by SMC, ``hidden-event``: ``V(f and
  g)`` from that SMC's last populations with the readout integrated out
  (:mod:`counting.estimators.hidden_event`; its volume row has ``method = hidden-event``, the
  replicates' columns, ``conditional_mean_log10`` and ``max_network_share``) against the readout
  pass's ``V(f)``, the two intervals joined end to end.
  Costs are :func:`counting.experiments.base.shares.cost_bits` of the shares (``inf`` for a share
  of 0, NaN where no network computed f).

Each pass gives its rows; :func:`combine` puts them in order (per width: the ``smc-share`` rows,
then the ``smc`` ones, then the ``readout`` ones, then the ``hidden-event`` ones; then the ``mc`` ones) and :func:`markdown` prints
both tables.

Example:
    >>> from counting.experiments.llama_rare.plan import Measure
    >>> m = Measure(32, ("x2", 0xF0F0F0F0), "layer1")
    >>> r = mc_cost_row(m, 85, 13, seed=0, n=5)
    >>> r["method"], r["llama_table"], round(r["cost_bits"], 3), r["n_f_and_g"]
    ('mc', '0xf0f0f0f0', 2.709, 13)
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from counting.boolean.tables import to_hex
from counting.estimators.readout import ShareSummary
from counting.estimators.result import Estimate, binomial_estimate
from counting.experiments.base.shares import cost_bits, volumes_cost
from counting.experiments.llama_rare.plan import Measure
from counting.rare.conditional import t_interval
from counting.spec.estimator import SMCSettings
from counting.stats import clopper_pearson

# columns every volumes table has (NaN where no row has them: no hit-or-miss pass, say)
VOLUME_EXTRA = ("hits", "reached", "replicates", "replicate_sd_log10", "replicate_range_log10", "seconds")


def volume_row(m: Measure, n: int, method: str, log10: float | None, lo: float | None, hi: float | None,
               **extra) -> dict:
    llama, table = m.llama if m.llama is not None else (None, None)
    return {"width": m.width, "condition": m.label, "llama": llama,
            "llama_table": None if table is None else to_hex(table, n), "site": m.site, "and_f": m.and_f,
            "method": method, "log10_volume": log10, "ci95_lo": lo, "ci95_hi": hi, **extra}


def estimate_row(m: Measure, n: int, e: Estimate, **extra) -> dict:
    """The row of an estimate of ``m``'s volume (its columns, :meth:`Estimate.columns`): method and
    interval, seed, ``extra``, then cost (``samples`` in ``cost_unit``) and seconds."""
    c = e.columns()
    return volume_row(m, n, c["estimator"], c["log10_volume"], c["ci95_lo"], c["ci95_hi"], seed=c["seed"], **extra,
                      cost=c["samples"], cost_unit=c["cost_unit"], seconds=c["seconds"])


def replicate_columns(e: Estimate, settings: SMCSettings) -> dict:
    """A replicated estimate's columns: replicates, how many reached, each one's log10, their sd and
    range, and the SMC settings."""
    reps = e.diagnostics["replicates_log10"]
    finite = [x for x in reps if math.isfinite(x)]
    return {"replicates": len(reps), "reached": len(finite), "replicates_log10": list(map(float, reps)),
            "replicate_sd_log10": float(np.std(finite, ddof=1)) if len(finite) > 1 else math.nan,
            "replicate_range_log10": float(max(finite) - min(finite)) if finite else math.nan,
            "particles": settings.particles, "steps": settings.steps, "kernel": settings.kernel}


def smc_row(m: Measure, n: int, e: Estimate, settings: SMCSettings) -> dict:
    """The row of an SMC estimate: :func:`estimate_row` with its replicates, their spread and the settings."""
    d = e.diagnostics
    return estimate_row(m, n, e, **replicate_columns(e, settings), mean_stages=d.get("mean_stages"),
                        log10_bound=d.get("log10_bound"))


def event_row(m: Measure, n: int, e: Estimate, settings: SMCSettings) -> dict:
    """The row of a ``hidden-event`` estimate of ``V(f and condition)``
    (:func:`counting.estimators.hidden_event.joint_estimate`): the replicates as an SMC row's, each
    replicate's conditional mean of ``P(f | hidden)`` (log10) and the largest share one network has
    of a replicate's sum (the largest over replicates)."""
    d = e.diagnostics
    shares = [x for x in d["max_network_share"] if math.isfinite(x)]
    return estimate_row(m, n, e, **replicate_columns(e, settings),
                        conditional_mean_log10=list(map(float, d["conditional_mean_log10"])),
                        max_network_share=max(shares) if shares else math.nan)


def mc_row(m: Measure, n: int, hits: int, samples: int, seed: int, seconds: float) -> dict:
    """A volume row from a hit-or-miss count (Clopper-Pearson 95%; zero hits: one-sided bound)."""
    e = binomial_estimate(int(hits), samples, seconds=seconds, seed=seed)
    return estimate_row(m, n, e, hits=e.hits)


READOUT_DIAGNOSTICS = ("khat", "khat_threshold", "reliable", "max_share", "ess", "zero_networks")


def readout_row(m: Measure, n: int, e: Estimate) -> dict:
    """A volume row from a readout estimate, with its reliability diagnostics (``warning``: ``None``
    where it is reliable)."""
    d = e.diagnostics
    return estimate_row(m, n, e, **{k: d[k] for k in READOUT_DIAGNOSTICS}, warning=d.get("warning"))


def cost_row(m: Measure, n: int, method: str, bits: float, lo: float, hi: float, **extra) -> dict:
    return {"width": m.width, "llama": m.llama[0], "llama_table": to_hex(m.llama[1], n), "site": m.site,
            "method": method, "cost_bits": bits, "ci95_lo": lo, "ci95_hi": hi, **extra}


def share_costs(share: float, lo: float, hi: float) -> tuple[float, float, float]:
    """The cost in bits of a share and its interval's ends (:func:`cost_bits`; the ends reversed)."""
    return tuple(float(x) for x in cost_bits(np.array([share, hi, lo])))


def share_cost_row(m: Measure, n: int, shares: np.ndarray, seed: int) -> dict:
    """The cost of ``m``'s llama from its shares among V(f)'s last SMC populations, one per
    replicate (NaN where a replicate's population held no network computing f): their mean with
    its t-interval over replicates."""
    ok = shares[np.isfinite(shares)]
    mean = float(ok.mean()) if len(ok) else math.nan
    lo, hi = t_interval(ok) if len(ok) else (math.nan, math.nan)
    bits, blo, bhi = share_costs(mean, lo, hi)
    if not ok.any():  # no replicate's population held it: no interval from the shares, only "expensive"
        blo = bhi = math.nan
    return cost_row(m, n, "smc-share", bits, blo, bhi, seed=seed, share=mean, share_lo=lo, share_hi=hi,
                    replicate_shares=ok.tolist())


def mc_cost_row(m: Measure, k_f: int, k_fg: int, seed: int, n: int) -> dict:
    """The cost from hit-or-miss counts: the share ``k_fg / k_f`` with its Clopper-Pearson interval."""
    lo, hi = clopper_pearson(k_fg, k_f) if k_f else (math.nan, math.nan)
    share = k_fg / k_f if k_f else math.nan
    bits, blo, bhi = share_costs(share, lo, hi)
    return cost_row(m, n, "mc", bits, blo, bhi, seed=seed, n_f=int(k_f), n_f_and_g=int(k_fg), share=share,
                    share_lo=lo, share_hi=hi)


def readout_cost_row(m: Measure, n: int, share: ShareSummary, f: Estimate, fg: Estimate) -> dict:
    """The cost from one readout pass: the share ``V(f and g) / V(f)`` with its paired delta-method
    interval (:func:`counting.estimators.readout.restricted_share`), reliable where both volumes are."""
    bits, blo, bhi = share_costs(share.share, share.lo, share.hi)
    df, dg = f.diagnostics, fg.diagnostics
    return cost_row(m, n, "readout", bits, blo, bhi, seed=f.seed, share=share.share, share_lo=share.lo,
                    share_hi=share.hi, share_se=share.se, ci_method="paired delta", networks=share.n,
                    khat_f=df["khat"], khat_f_and_g=dg["khat"], max_share_f_and_g=dg["max_share"],
                    reliable=bool(df["reliable"] and dg["reliable"]))


def smc_cost_row(f_row: dict, fg_row: dict, method: str = "smc") -> dict:
    """The cost from two independent volume rows (:func:`volumes_cost`): two SMC rows, or (``method
    = "hidden-event"``) a ``hidden-event`` row of ``V(f and g)`` and the width's readout row of ``V(f)``."""
    bits, lo, hi = volumes_cost((f_row["log10_volume"], f_row["ci95_lo"], f_row["ci95_hi"]),
                                (fg_row["log10_volume"], fg_row["ci95_lo"], fg_row["ci95_hi"]))
    return {"width": fg_row["width"], "llama": fg_row["llama"], "llama_table": fg_row["llama_table"],
            "site": fg_row["site"], "method": method, "cost_bits": bits, "ci95_lo": lo, "ci95_hi": hi,
            "seed_f": f_row["seed"], "seed_f_and_g": fg_row["seed"]}


def records(df: pd.DataFrame | None) -> list[dict]:
    """A table's rows as dicts (none for a missing table)."""
    return [] if df is None else df.to_dict(orient="records")


def combine(volume_parts: pd.DataFrame, share_parts: pd.DataFrame | None, mc_parts: pd.DataFrame | None,
            widths: list[int], readout_parts: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``volumes`` and ``costs`` tables from the passes' rows: volumes in pass order; costs per
    width (in ``widths``' order) the ``smc-share`` rows then one ``smc`` row per SMC volume of "f and
    a layer holds g" (with that width's V(f)), then the ``readout`` rows; then the ``mc`` rows. Each table is made from its
    rows as dicts, so a column's type is that of its values, whichever pass they came from."""
    vrows = records(volume_parts)
    f_rows = {r["width"]: r for r in vrows if r["method"] == "smc" and r["llama"] is None}
    # a readout pass's table has V(f) beside llama rows, so its missing llama reads back as NaN
    f_readout = {r["width"]: r for r in vrows if r["method"] == "readout" and not isinstance(r["llama"], str)}
    crows = []
    shares, readouts = records(share_parts), records(readout_parts)
    for w in widths:
        crows += [r for r in shares if r["width"] == w]
        crows += [smc_cost_row(f_rows[w], r) for r in vrows
                  if r["width"] == w and r["method"] == "smc" and r["and_f"] and r["llama"] is not None]
        crows += [r for r in readouts if r["width"] == w]
        crows += [smc_cost_row(f_readout[w], r, "hidden-event") for r in vrows
                  if r["width"] == w and r["method"] == "hidden-event"]
    crows += records(mc_parts)
    volumes, costs = pd.DataFrame(vrows), pd.DataFrame(crows)
    for col in VOLUME_EXTRA:
        if col not in volumes:
            volumes[col] = np.nan
    if "share" not in costs:
        costs["share"] = np.nan
    return volumes, costs


def markdown(volumes: pd.DataFrame, costs: pd.DataFrame) -> str:
    """Both tables as text, 3 decimals (what ``counting run`` prints, and ``llama_rare.md``); with
    readout rows, their ``khat`` and ``reliable`` columns too."""
    readout = ["khat", "reliable"] if "khat" in volumes else []
    v = volumes[["width", "condition", "method", "log10_volume", "ci95_lo", "ci95_hi", "reached", "replicates",
                 "replicate_sd_log10", "replicate_range_log10", "hits", "seconds"] + readout]
    fmt = lambda d: d.to_string(index=False, float_format=lambda x: f"{x:.3f}")  # noqa: E731
    text = f"# Volumes (log10, 95% intervals)\n\n{fmt(v)}\n"
    if len(costs):
        c = costs[["width", "llama", "site", "method", "cost_bits", "ci95_lo", "ci95_hi", "share"]
                  + (["reliable"] if "reliable" in costs else [])]
        text += f"\n# Costs (bits, 95% intervals)\n\n{fmt(c)}\n"
    return text
