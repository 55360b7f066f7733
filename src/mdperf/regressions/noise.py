"""The noise of one benchmark series, as the detector reads it (docs/design/detector.md): robust spreads, the
lag-1 jumps, the AR(1) correlation from the variogram, the z of a step under that noise, the outlier filter, the
alternation of a series whose points take two modes in turn."""

from __future__ import annotations

from typing import Callable, Literal

import numpy as np
from scipy import stats
from scipy.ndimage import median_filter


def _mad_sigma(x: np.ndarray) -> float:
    return float(1.4826 * np.median(np.abs(x - np.median(x))))


_TRIM = 0.10


# The sd of a standard normal truncated to its central 90 %: scales the trimmed sd to read sigma.
_TRIMMED_NORMAL_SD = float(np.sqrt(stats.truncnorm.var(-stats.norm.isf(_TRIM / 2), stats.norm.isf(_TRIM / 2))))


def _trimmed_sigma(x: np.ndarray) -> float:
    """Standard deviation of the central 90 % of ``x``, scaled to read a normal sample's sigma."""
    dev = np.sort(np.abs(x - np.median(x)))
    keep = dev[: max(2, int(np.ceil((1 - _TRIM) * dev.size)))]
    return float(np.sqrt(np.mean(keep**2)) / _TRIMMED_NORMAL_SD)


def _significant_phi(est: float, n: int) -> float:
    # Kept only above 1 / sqrt(n): correlated noise read as independent inflates every z-score of a short series.
    return min(est, 0.9) if est > 1 / np.sqrt(n) else 0.0


def _diffs(y: np.ndarray, lag: int, bkps: list[int] | tuple[int, ...] = ()) -> np.ndarray:
    """Lag-``lag`` differences of ``y``, none across a change point of ``bkps``."""
    if not bkps:
        return y[lag:] - y[:-lag]
    edges = [0, *bkps, y.size]
    parts = [y[a + lag:b] - y[a:b - lag] for a, b in zip(edges, edges[1:]) if b - a > lag]
    return np.concatenate(parts) if parts else np.zeros(0)


def jumps(y: np.ndarray, k: float, min_jump: float = 0.05) -> list[int]:
    """Where the series jumps: lag-1 differences more than ``k`` times their robust spread (a few steps barely
    move the MAD), so that the changes sought are not read as noise."""
    d = np.diff(y)
    if d.size < 4:
        return []
    spread = _mad_sigma(d)
    found = np.flatnonzero(d != 0) if spread <= 0 else np.flatnonzero(np.abs(d - np.median(d)) > k * spread)
    # A jump is a new level that lasts: the medians of the 5 commits either side differ as much (a burst of
    # slow runs on a two-state clock comes back within a few).
    w = 5
    shift = {int(i) + 1: abs(np.median(y[i + 1:i + 1 + w]) - np.median(y[max(0, i + 1 - w):i + 1])) for i in found}
    cuts = [i for i, m in shift.items() if spread <= 0 or m > k * spread]
    if len(cuts) > 3:
        # Many jumps may be the noise itself (two clock states): only those of 5 % or more, a few commits
        # apart at most, are taken for changes.
        cuts = [i for i in cuts if shift[i] >= min_jump]
        if len(cuts) > 3 and np.median(np.diff([0, *cuts, y.size])) < 4:
            return []
    return cuts


ALTERNATION_K = 2.0  # the alternation this many robust spreads of its own reading wide, at least
ALTERNATION_SHARE = 0.8  # ... with this share of the commit-to-commit moves going its way


def alternation(y: np.ndarray) -> float:
    """The gap between the two modes of a series that alternates commit by commit (odd points above even ones by
    the returned amount; 0 where it does not alternate).  Read as the median of the lag-1 differences with every
    other one's sign turned: a step moves one of them, the noise centres them on 0 (docs/design/detector.md,
    "Alternating series")."""
    if y.size < 8:
        return 0.0
    s = np.diff(y) * np.where(np.arange(y.size - 1) % 2 == 0, 1.0, -1.0)
    gap = float(np.median(s))
    if gap == 0 or abs(gap) <= ALTERNATION_K * _mad_sigma(s) or np.mean(np.sign(s) == np.sign(gap)) < ALTERNATION_SHARE:
        return 0.0
    return gap


def dealternated(y: np.ndarray, gap: float) -> np.ndarray:
    """``y`` with the alternation ``gap`` taken out, each point moved half of it towards the middle of the modes."""
    return y - gap * (np.arange(y.size) % 2 - 0.5) if gap else y


def noise_model(y: np.ndarray, scale: Literal["mad", "trimmed"] = "mad",
                phi: float | None = None, bkps: list[int] | tuple[int, ...] = ()) -> tuple[float, float]:
    """Marginal sigma and AR(1) coefficient phi of a series that may hold steps, outliers and ramps, from its
    differences (blind to steps and ramps), none taken across a change point of ``bkps``.  ``scale``: the
    differences' spread from their MAD (a series that still holds its outliers) or their trimmed sd (one
    cleaned of them).  ``phi`` given: sigma for that phi."""
    n = y.size
    if n < 3:
        return float("nan"), 0.0
    spread = _mad_sigma if scale == "mad" else _trimmed_sigma
    d1, d4 = _diffs(y, 1, bkps), _diffs(y, 4, bkps)
    if d1.size < 2:
        return float("nan"), 0.0
    if phi is None:
        phi = 0.0
        if n >= 10:
            # First differences of AR(1) noise have lag-1 correlation -(1 - phi) / 2.
            a, b = (d1[:-1], d1[1:]) if not bkps else _pairs(y, bkps)
            rho = _spearman(a, b)
            if np.isfinite(rho):
                phi = _significant_phi(1 + 2 * rho, n)
    if phi > 0 and n >= 8 and d4.size >= 2:
        # Var(y[t+k] - y[t]) = 2 sigma^2 (1 - phi^k): lag 4 is far less shrunk by the correlation than lag 1.
        sigma = spread(d4) / np.sqrt(2 * (1 - phi**4))
    else:
        sigma = spread(d1) / np.sqrt(2)
        if n >= 8 and d4.size >= 2:
            # A variance-ratio test: correlated noise whose phi read 0 still shows in lag-4 differences.
            sigma4 = spread(d4) / np.sqrt(2)
            if sigma4 > sigma * (1 + 1 / np.sqrt(n)):
                sigma = sigma4
    return float(sigma), float(phi)


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Rank correlation; NaN where it is undefined (fewer than 3 pairs, a constant side)."""
    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(stats.spearmanr(a, b).statistic)


def _pairs(y: np.ndarray, bkps: list[int] | tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Consecutive pairs of first differences, both within one segment."""
    edges = [0, *bkps, y.size]
    a, b = [], []
    for lo, hi in zip(edges, edges[1:]):
        d = np.diff(y[lo:hi])
        if d.size >= 2:
            a.append(d[:-1])
            b.append(d[1:])
    return (np.concatenate(a), np.concatenate(b)) if a else (np.zeros(0), np.zeros(0))


_PHI_LAGS = np.arange(1, 9)


_PHI_GRID = np.linspace(-0.5, 0.95, 59)


_PHI_SHAPE = np.log(1 - _PHI_GRID[:, None] ** _PHI_LAGS)  # log(1 - phi^k) for each trial phi and lag


def variogram_phi(y: np.ndarray, bkps: list[int]) -> float:
    """AR(1) coefficient fitted to the spread of the differences at lags 1 to 8 (at most n / 3) within the
    segments between change points ``bkps``, the scale left free."""
    n = y.size
    k = min(_PHI_LAGS.size, n // 3)
    if n < 10 or k < 2:
        return 0.0
    spreads = []
    for j in range(1, k + 1):
        d = _diffs(y, j, bkps)
        spreads.append(_trimmed_sigma(d) if d.size >= 4 else 0.0)
    v = np.asarray(spreads)
    if np.any(v <= 0):
        return 0.0
    misfit = np.var(2 * np.log(v) - _PHI_SHAPE[:, :k], axis=1)  # the free scale takes out the mean
    return _significant_phi(float(_PHI_GRID[np.argmin(misfit)]), n)


def step_z(before: np.ndarray, after: np.ndarray, sigma: float, phi: float) -> float:
    """z-score of a level shift between two adjacent blocks under AR(1) noise (sigma, phi): the generalised
    least-squares shift over its standard error (with phi = 0, the difference of means over its se)."""
    y = np.concatenate([before, after])
    n = y.size
    x = np.column_stack([np.ones(n), (np.arange(n) >= before.size).astype(float)])
    if phi > 0:  # Prais-Winsten whitening turns the GLS fit into ordinary least squares
        w = np.sqrt(1 - phi**2)
        y = np.concatenate([[w * y[0]], y[1:] - phi * y[:-1]])
        x = np.vstack([w * x[:1], x[1:] - phi * x[:-1]])
        sigma = sigma * w  # the innovations' sigma
    try:
        cov = np.linalg.inv(x.T @ x)
    except np.linalg.LinAlgError:
        return 0.0
    beta = cov @ (x.T @ y)
    se = float(np.sqrt(max(cov[1, 1], 0.0))) * sigma
    return float(beta[1] / se) if se > 0 else 0.0


def _z_reader(sigma: float, phi: float, df: float) -> Callable[[np.ndarray, np.ndarray], float]:
    """|step_z| read through Student's t with ``df`` degrees of freedom (sigma is an estimate), given back as
    the normal z of the same tail probability."""
    def z(before: np.ndarray, after: np.ndarray) -> float:
        raw = abs(step_z(before, after, sigma, phi))
        tail = float(stats.t.sf(raw, df))
        return float(stats.norm.isf(tail)) if tail > 0 else raw  # beyond float range: the raw z, finite
    return z


def rolling_median(y: np.ndarray, half: int = 2) -> np.ndarray:
    """Centred rolling median, the window truncated at the ends (the newest points judged only by what came
    before them and themselves)."""
    n = y.size
    if n == 0:
        return y.copy()
    out = median_filter(y, size=2 * half + 1, mode="nearest")
    for i in list(range(min(half, n))) + list(range(max(half, n - half), n)):
        out[i] = np.median(y[max(0, i - half): i + half + 1])
    return out


def hampel(y: np.ndarray, sigma: float, k: float) -> tuple[np.ndarray, np.ndarray]:
    med = rolling_median(y)
    outlier = np.abs(y - med) > k * sigma
    return np.where(outlier, med, y), outlier
