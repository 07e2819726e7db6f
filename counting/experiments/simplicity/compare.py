"""Which complexity measure predicts log V(f): rank correlations, partial correlations, a regression.

Every statistic is over **functions** (all ``2**2**n`` of them), computed on NPN classes weighted
by their sizes, which is the same thing and 300 times smaller. Spearman's rho is the weighted
Pearson correlation of weighted mid-ranks (ties share the mean of the positions they cover, as in
the expanded list of functions).

Intervals come from a bootstrap that respects where the numbers come from: each resample draws
the functions again (a multinomial over classes with the class sizes as weights: the function-level
bootstrap done by class) and redraws each class's log10 volume from its estimate's uncertainty
(normal, standard deviation the 95% interval's width over 3.92, the same draw for every member of
a class, which is one estimate). Redrawing the volumes adds noise to them, which pulls a resample's
correlation towards 0, so the resamples are biased against the observed value (the observed one
is biased the same way by the volumes' own noise); each statistic is therefore reported twice: as
observed (``spearman``, ``partial_spearman``) and bias corrected (``spearman_bc``,
``partial_spearman_bc``: ``2 t - mean(t*)``), the 95% interval being the basic bootstrap one
around it (:func:`counting.twosample.basic_interval`), which contains the bias-corrected estimate
(a percentile interval of these resamples excluded the observed rho in one row of 66). ``min_weights`` is missing where no network of its architecture
computes the function; those functions rank above every computable one (a censored value ties
at the top), which is what the measure knows about them.

Example:
    >>> import numpy as np
    >>> x, w = np.array([1.0, 2.0, 2.0, 5.0]), np.array([1, 2, 1, 1])
    >>> weighted_ranks(x, w).tolist()   # expanded: 1, 2, 2, 2, 5 -> ranks 1, 3, 3, 3, 5
    [1.0, 3.0, 3.0, 5.0]
    >>> round(spearman(np.array([1.0, 2, 3]), np.array([3.0, 1, 2]), np.ones(3)), 3)
    -0.5
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from jaxtyping import Float

from counting.twosample import basic_interval

PROGRAM_LENGTH = ("lz", "formula_size", "formula_size_xor")
PARAMETERS = ("min_weights", "circuit_depth")
OTHER = ("avg_sensitivity", "max_sensitivity", "fourier_degree", "f2_degree", "spectral_entropy", "ones_balance")
MEASURES = PROGRAM_LENGTH + PARAMETERS + OTHER
PARTIAL_PAIRS = (("lz", "min_weights"), ("min_weights", "lz"), ("formula_size_xor", "min_weights"),
                 ("min_weights", "formula_size_xor"), ("lz", "avg_sensitivity"), ("min_weights", "avg_sensitivity"),
                 ("circuit_depth", "formula_size_xor"), ("formula_size_xor", "circuit_depth"))
REGRESSORS = ("lz", "formula_size_xor", "min_weights", "circuit_depth", "avg_sensitivity", "fourier_degree")


def family(measure: str) -> str:
    """``"program length"``, ``"parameters"`` or ``"other"``."""
    return "program length" if measure in PROGRAM_LENGTH else "parameters" if measure in PARAMETERS else "other"


def weighted_ranks(x: Float[np.ndarray, " k"], w: Float[np.ndarray, " k"]) -> Float[np.ndarray, " k"]:
    """Mid-ranks of ``x`` in the list where value ``x[i]`` appears ``w[i]`` times."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    order = np.argsort(x, kind="stable")
    xs, ws = x[order], w[order]
    starts = np.r_[True, xs[1:] != xs[:-1]]
    group = np.cumsum(starts) - 1
    gw = np.bincount(group, weights=ws)
    before = np.r_[0.0, np.cumsum(gw)[:-1]]
    out = np.empty_like(x)
    out[order] = (before + (gw + 1) / 2)[group]
    return out


def weighted_pearson(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> float:
    w = np.asarray(w, np.float64) / np.sum(w)
    da, db = a - np.sum(w * a), b - np.sum(w * b)
    den = np.sqrt(np.sum(w * da * da) * np.sum(w * db * db))
    return float(np.sum(w * da * db) / den) if den > 0 else float("nan")


def spearman(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """Spearman's rho over the expanded list (weights are multiplicities)."""
    return weighted_pearson(weighted_ranks(x, w), weighted_ranks(y, w), w)


def _residual(y: np.ndarray, z: np.ndarray, w: np.ndarray) -> np.ndarray:
    a = np.stack([np.ones_like(z), z], axis=1)
    sw = np.sqrt(w)
    beta, *_ = np.linalg.lstsq(a * sw[:, None], y * sw, rcond=None)
    return y - a @ beta


def partial_spearman(x: np.ndarray, y: np.ndarray, z: np.ndarray, w: np.ndarray) -> float:
    """Spearman's rho of ``x`` and ``y`` with the (linear) effect of ``z``'s ranks removed from both."""
    rx, ry, rz = (weighted_ranks(v, w) for v in (x, y, z))
    return weighted_pearson(_residual(rx, rz, w), _residual(ry, rz, w), w)


def r_squared(y: np.ndarray, xs: list[np.ndarray], w: np.ndarray) -> tuple[float, np.ndarray]:
    """Weighted least squares of ``y`` on standardised ``xs`` (with an intercept): R^2 and the
    coefficients (per standard deviation of each regressor)."""
    w = np.asarray(w, np.float64) / np.sum(w)
    cols = []
    for x in xs:
        m = np.sum(w * x)
        sd = np.sqrt(np.sum(w * (x - m) ** 2))
        cols.append((x - m) / sd if sd > 0 else np.zeros_like(x))
    a = np.column_stack([np.ones_like(y)] + cols)
    sw = np.sqrt(w)
    beta, *_ = np.linalg.lstsq(a * sw[:, None], y * sw, rcond=None)
    res = y - a @ beta
    my = np.sum(w * y)
    return float(1 - np.sum(w * res**2) / np.sum(w * (y - my) ** 2)), beta[1:]


def measure_values(classes: pd.DataFrame, measure: str) -> np.ndarray:
    """A measure's column as floats (``min_weights`` censored at one above its largest value;
    ``ones_balance``: the distance of the number of ones from half the points)."""
    if measure == "ones_balance":
        ones = classes["ones"].to_numpy(np.float64)
        return np.abs(ones - classes["points"].to_numpy(np.float64) / 2)
    v = pd.to_numeric(classes[measure], errors="coerce").to_numpy(np.float64)
    if measure == "min_weights" and np.isnan(v).any():
        v = np.where(np.isnan(v), np.nanmax(v) + 1, v)
    return v


def _draws(classes: pd.DataFrame, boot: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap weights ``[boot, classes]`` and log10 volumes ``[boot, classes]``."""
    rng = np.random.default_rng(seed)
    size = classes["size"].to_numpy(np.float64)
    total = int(size.sum())
    w = rng.multinomial(total, size / total, size=boot).astype(np.float64)
    y = classes["log10_volume"].to_numpy(np.float64)
    sd = (classes["ci95_hi"] - classes["ci95_lo"]).to_numpy(np.float64) / 3.92
    sd = np.where(np.isfinite(sd), sd, 0.0)
    return w, y + sd * rng.standard_normal((boot, len(y)))


def correlations(classes: pd.DataFrame, boot: int = 1000, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame,
                                                                                     pd.DataFrame]:
    """Three tables for one (n, prior): each measure's Spearman rho with log10 V and its single-measure
    R^2; the partial correlations of :data:`PARTIAL_PAIRS`; the regression on :data:`REGRESSORS`."""
    size = classes["size"].to_numpy(np.float64)
    y = classes["log10_volume"].to_numpy(np.float64)
    wb, yb = _draws(classes, boot, seed)
    rows = []
    for m in MEASURES:
        x = measure_values(classes, m)
        rho = spearman(x, y, size)
        bs = np.array([spearman(x, yb[b], wb[b]) for b in range(boot)])
        bc, lo, hi = basic_interval(rho, bs, lo=-1.0, hi=1.0)
        rows.append({"measure": m, "family": family(m), "spearman": rho, "spearman_bc": bc,
                     "ci95_lo": lo, "ci95_hi": hi, "r2": r_squared(y, [x], size)[0]})
    corr = pd.DataFrame(rows)
    prow = []
    for m, given in PARTIAL_PAIRS:
        x, z = measure_values(classes, m), measure_values(classes, given)
        bs = np.array([partial_spearman(x, yb[b], z, wb[b]) for b in range(boot)])
        t = partial_spearman(x, y, z, size)
        bc, lo, hi = basic_interval(t, bs, lo=-1.0, hi=1.0)
        prow.append({"measure": m, "given": given, "partial_spearman": t, "partial_spearman_bc": bc,
                     "ci95_lo": lo, "ci95_hi": hi})
    xs = [measure_values(classes, m) for m in REGRESSORS]
    r2, beta = r_squared(y, xs, size)
    reg = pd.DataFrame({"term": list(REGRESSORS) + ["R^2 (all together)"], "value": list(beta) + [r2]})
    return corr, pd.DataFrame(prow), reg


def parity_position(classes: pd.DataFrame, parity_hex: str) -> dict:
    """Where the parity class falls: its log10 volume, its rank among classes from the rarest (1),
    and the share of functions with a smaller volume."""
    y = classes["log10_volume"].to_numpy(np.float64)
    i = int(np.flatnonzero(classes["representative"].to_numpy() == parity_hex)[0])
    size = classes["size"].to_numpy(np.float64)
    return {"parity_log10_volume": float(y[i]), "parity_rank_from_rarest": int(np.sum(y < y[i]) + 1),
            "classes": len(y), "share_of_functions_rarer": float(size[y < y[i]].sum() / size.sum())}
