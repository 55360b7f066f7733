"""Change points of one benchmark series, oldest first.

The method, its settings and the evidence behind each are in docs/design/detector.md; in short:
:func:`fit` reads the noise from the series, filters outliers and segments it; :func:`place` judges and
places each change point; :func:`scan_recent` and :func:`judge_tail` look at the newest commits on their
own; :func:`confirm` holds back a flag that rests on the newest commit alone.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Literal

import numpy as np
import ruptures
from scipy import stats
from scipy.ndimage import median_filter
from scipy.special import logsumexp

State = Literal["confirmed", "suspected"]
Kind = Literal["regression", "improvement", "transient"]


@dataclass(frozen=True)
class DetectorConfig:
    min_rel_change: float = 0.01
    penalty_beta: float = 3.5
    z_min: float = 3.5
    hampel_k: float = 4.0
    confirm_after: int = 3
    window: int = 50  # commits each side for the z-score, at most (never past a neighbouring change)
    local_window: int = 16  # commits each side for the levels and the size
    scan: int = 12  # newest commits scanned for a step of their own
    refine: int = 4  # how far a change point may move to its strongest jump (AR(1)) or likeliest place
    tail_z: float = 6.0
    p_max: float = 0.05  # Mann-Whitney U on the raw values
    persist: int = 3  # confirmed only if found, this near, without the newest commit too (0: off)...
    persist_z: float = 5.0  # ... unless its z-score is at least this
    persist_z_min: float = 3.0  # z the shorter series needs once more than confirm_after commits sit at the new level
    transient_max: int = 3  # a run of at most this many commits that returns to the earlier level is a transient
    jump_k: float = 5.0  # a lag-1 difference this many robust spreads wide is a jump, not noise
    young: int = 30  # commits up to which a series is young: its correlation is hard to tell from its changes
    alt_z: float = 5.0  # correlation read off a series gives way to changes this strong under independent noise
    alt_min_rel: float = 0.05  # ... and at least this large (log scale)


@dataclass
class Change:
    index: int  # first point at the new level
    before: float  # level before (median, original units)
    after: float
    rel_change: float  # after / before - 1
    z: float
    p_value: float
    state: State
    kind: Kind
    n_after: int = 0  # commits at the new level (a transient: commits it lasted)


# --- the noise model --------------------------------------------------------------------------------------


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
    v = []
    for j in range(1, k + 1):
        d = _diffs(y, j, bkps)
        v.append(_trimmed_sigma(d) if d.size >= 4 else 0.0)
    v = np.asarray(v)
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


# --- the fit: outliers, segmentation, ramps ---------------------------------------------------------------


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


def _transform(values: np.ndarray) -> tuple[np.ndarray, float]:
    """Log values, or, for a series not positive throughout, values over their typical size (returned; 0 for
    logs)."""
    if np.all(values > 0) and np.all(np.isfinite(np.log(values))):
        return np.log(values), 0.0
    for scale in (float(np.median(np.abs(values))), float(np.max(np.abs(values), initial=0.0)), 1.0):
        if scale > 1e-300 and np.isfinite(scale) and np.all(np.isfinite(values / scale)):
            return values / scale, scale
    return np.clip(values, -1e300, 1e300) / 1e300, 1e300


def _segment(y: np.ndarray, pen: float) -> tuple[list[int], float]:
    """PELT with an L2 cost: change points and the penalised cost of the segmentation."""
    bkps = [int(b) for b in ruptures.KernelCPD(kernel="linear", min_size=2, jump=1).fit(y.reshape(-1, 1)).predict(pen=pen)
            if b < y.size]
    edges = [0, *bkps, y.size]
    sse = sum(float(np.sum((y[a:b] - y[a:b].mean()) ** 2)) for a, b in zip(edges, edges[1:]))
    return bkps, sse + pen * len(bkps)


def _within_slope(y: np.ndarray, bkps: list[int], sigma: float) -> tuple[float, float]:
    """Least-squares slope shared by the segments, each at its own level, and its standard error."""
    edges = [0, *bkps, y.size]
    num = den = 0.0
    for a, b in zip(edges, edges[1:]):
        t = np.arange(a, b, dtype=float)
        t -= t.mean()
        num += float(t @ (y[a:b] - y[a:b].mean()))
        den += float(t @ t)
    return (num / den, sigma / np.sqrt(den)) if den > 0 else (0.0, float("inf"))


def segmentation(clean: np.ndarray, sigma: float, phi: float, config: DetectorConfig) -> tuple[list[int], float]:
    """Change points by PELT and, where one shared slope explains the series at a lower penalised cost than
    PELT's staircase, that slope (the change points then found in the detrended series)."""
    n = clean.size
    sigma = max(sigma, 1e-4)
    sigma_eff = sigma * np.sqrt((1 + phi) / (1 - phi))  # the long-run sigma under AR(1)
    pen = config.penalty_beta * sigma_eff**2 * np.log(n)
    if not (np.isfinite(pen) and pen > 0 and np.all(np.isfinite(clean))):
        return [], 0.0
    bkps, cost = _segment(clean, pen)
    slope = 0.0
    t = np.arange(n, dtype=float)
    s_, se = _within_slope(clean, bkps, sigma_eff)
    s0, se0 = _within_slope(clean, [], sigma_eff)
    if n >= 8 and (abs(s_) >= 2 * se or abs(s0) >= 2 * se0):  # no slope to speak of: spare the PELT runs
        # Two starts: the slope within PELT's segments (a step on a ramp) and of the whole series (a ramp cut
        # into a staircase); the second replaces steps, so it pays more of a change point's penalty.
        best_cost = cost
        starts = [(s_, pen / config.penalty_beta), (s0, (0.6 if phi == 0 else 0.8) * pen)]
        for start, slope_pen in starts:
            bk_d, _ = _segment(clean - start * t, pen)
            s_d, _ = _within_slope(clean, bk_d, sigma_eff)
            bk_d, cost_d = _segment(clean - s_d * t, pen)
            if cost_d + slope_pen < best_cost:
                best_cost, slope, bk_best = cost_d + slope_pen, s_d, bk_d
    return (bk_best, slope) if slope else (bkps, 0.0)


@dataclass
class Fit:
    """A series as the detector sees it: transformed, cleaned of outliers, segmented, detrended."""

    y: np.ndarray  # log values (or values over their scale), detrended
    clean: np.ndarray  # the same with outliers replaced by the rolling median
    scale: float  # 0 for logs
    sigma: float
    phi: float
    bkps: list[int]
    slope: float
    z: Callable[[np.ndarray, np.ndarray], float]  # the z-score of a level shift between two blocks

    @property
    def n(self) -> int:
        return self.y.size


SIGMA_FLOOR = 1e-4  # keeps a flat series from flagging round-off
LAG1_RATIO_MAX = 2.0  # sigma over the lag-1 differences' sigma, at most: AR(1) noise with phi <= 0.75


def _bounded(sigma: float, phi: float, sigma1: float) -> tuple[float, float]:
    """Noise that the changes themselves cannot inflate: no more than LAG1_RATIO_MAX times what the lag-1
    differences (which a few steps barely touch) read, and a phi consistent with that."""
    if sigma1 <= SIGMA_FLOOR:  # no noise at all (an iteration count, bytes): nothing to correlate
        return min(sigma, LAG1_RATIO_MAX * SIGMA_FLOOR), 0.0
    return min(sigma, LAG1_RATIO_MAX * sigma1), min(phi, 1 - LAG1_RATIO_MAX**-2)


def _separated(before: np.ndarray, after: np.ndarray) -> bool:
    """Every point of one side beyond every point of the other."""
    return bool(before.max() < after.min() or before.min() > after.max())


def fit(x: np.ndarray, config: DetectorConfig) -> Fit:
    n = x.size
    y, scale = _transform(x)
    sigma = max(noise_model(y)[0], SIGMA_FLOOR)
    clean, _ = hampel(y, sigma, config.hampel_k)
    jumped = jumps(clean, config.jump_k)
    sigma1 = max(_trimmed_sigma(_diffs(clean, 1, jumped)) / np.sqrt(2), SIGMA_FLOOR)
    sigma, phi = _bounded(*noise_model(clean, "trimmed", bkps=jumped), sigma1)
    bkps, slope = segmentation(clean, sigma, phi, config)
    # phi read again from every lag within the segments found; where it differs, sigma and segments follow.
    phi2 = variogram_phi(clean - slope * np.arange(n), sorted(set(bkps) | set(jumped)))
    if abs(phi2 - phi) > 0.1:
        sigma, phi = _bounded(noise_model(clean, "trimmed", phi=phi2, bkps=jumped)[0], phi2, sigma1)
        bkps, slope = segmentation(clean, sigma, phi, config)
    if n <= config.young:
        # Correlation or spread read off a short series may be its changes: where segmenting it as independent
        # noise finds strong, fully separated changes and no correlation is left within them, they are taken.
        alt, alt_slope = segmentation(clean, sigma1, 0.0, config)
        if alt and len(alt) >= len(bkps):
            cuts = sorted(set(alt) | set(jumped))
            detrended = clean - alt_slope * np.arange(n)
            # The correlation left within the segments (a dip inside one reads as some) is kept, and the steps
            # must stand under it: a young series' steps are not explained away, nor its correlation ignored.
            phi_alt = variogram_phi(detrended, cuts)
            sigma_alt = max(_trimmed_sigma(_diffs(clean, 1, cuts)) / np.sqrt(2), SIGMA_FLOOR)
            if phi_alt > 0:
                sigma_alt, phi_alt = _bounded(max(noise_model(detrended, "trimmed", phi=phi_alt, bkps=cuts)[0],
                                                  sigma_alt), phi_alt, sigma1)
            edges = [0, *alt, n]
            if all(abs(step_z(detrended[a:b], detrended[b:c], sigma_alt, phi_alt)) >= config.alt_z
                   and _separated(clean[a:b], clean[b:c])
                   and abs(np.median(clean[b:c]) - np.median(clean[a:b])) >= config.alt_min_rel
                   for a, b, c in zip(edges, edges[1:], edges[2:])):
                sigma, phi = sigma_alt, phi_alt
                bkps, slope = segmentation(clean, sigma, phi, config)
    sigma = max(sigma, SIGMA_FLOOR)
    # Degrees of freedom of sigma: n - 1 differences at the trimmed sd's efficiency on normal noise (~0.8).
    zf = _z_reader(sigma, phi, max(0.8 * (n - 1), 1.0))
    if slope:
        t = np.arange(n, dtype=float)
        clean = clean - slope * t
        y = y - slope * t
    return Fit(y, clean, scale, sigma, phi, bkps, slope, zf)


# --- changes: judged, placed, the newest commits ---------------------------------------------------------


def make_change(f: Fit, b: int, lo: int, hi: int, higher_is_better: bool, config: DetectorConfig,
                tail: bool = False) -> Change | None:
    """The change at ``b`` judged on ``lo:b`` against ``b:hi``, or None when it is too small or not
    significant.  A tail change is judged on its raw values and is always suspected."""
    before, after = f.y[lo:b], f.y[b:hi]
    if before.size == 0 or after.size == 0:
        return None
    w = config.local_window
    mb, ma = float(np.median(before[-w:])), float(np.median(after[:w]))
    delta = ma - mb
    rel = float(np.expm1(delta)) if not f.scale else float(delta)
    z = f.z(before, after) if tail else f.z(f.clean[lo:b], f.clean[b:hi])
    if abs(rel) < config.min_rel_change:
        return None
    if not tail and z < config.z_min:
        return None
    p = float(stats.mannwhitneyu(before, after, alternative="two-sided").pvalue) if before.size > 1 else float("nan")
    # Three against three can never reach p 0.05: fully separated sides are as clear as ranks can say.
    if not tail and not (p <= config.p_max or (min(before.size, after.size) >= 3 and _separated(before, after))):
        return None
    worse = (delta < 0) if higher_is_better else (delta > 0)
    n_after = f.n - b
    # Confirmed once it has outlasted a transient: a run of transient_max commits may yet come back.
    state: State = ("confirmed" if n_after >= max(config.confirm_after, config.transient_max + 1) and not tail
                    else "suspected")
    trend = f.slope * b  # the levels where the series stood at the change
    to = np.exp if not f.scale else (lambda v: v * f.scale)
    return Change(index=int(b), before=float(to(mb + trend)), after=float(to(ma + trend)), rel_change=rel,
                  z=float(z), p_value=p, state=state, kind="regression" if worse else "improvement",
                  n_after=int(n_after))


def likeliest_place(y: np.ndarray, edges: list[int], b: int, radius: int, window: int) -> int:
    """The change point between ``edges[0]`` and ``edges[2]``, moved by up to ``radius`` commits from ``b`` to
    where the series is likeliest: before it at the median before, after it at the median after, each point's
    likelihood from a Gaussian kernel density of both segments' residuals (Silverman's bandwidth).  Values
    ``window`` commits or more from ``b`` do not take part."""
    lo, hi = max(edges[0], b - window), min(edges[2], b + window)
    cands = np.arange(max(lo + 2, b - radius), min(hi - 1, b + radius + 1))
    if cands.size < 2:
        return b
    before, after = y[lo:b], y[b:hi]
    lb, la = float(np.median(before)), float(np.median(after))
    resid = np.concatenate([before - lb, after - la])
    iqr = float(np.subtract(*np.percentile(resid, [75, 25])))
    bw = 0.9 * min(float(np.std(resid)), iqr / 1.34 if iqr > 0 else np.inf) * resid.size ** -0.2
    if not bw > 0:
        return b
    seg = y[lo:hi]

    def loglik(level: float) -> np.ndarray:  # up to a constant, which both levels share
        return logsumexp(-0.5 * ((seg[:, None] - level - resid[None, :]) / bw) ** 2, axis=1)

    ll_before, ll_after = np.cumsum(loglik(lb)), np.cumsum(loglik(la)[::-1])[::-1]
    ll = ll_before[cands - lo - 1] + ll_after[cands - lo]
    return int(cands[int(np.argmax(ll))])


def place(f: Fit, higher_is_better: bool, config: DetectorConfig) -> list[Change]:
    """Each change point of the segmentation, moved to its strongest jump (AR(1) noise) or likeliest place
    (independent noise), and kept if large and significant enough.  A change point dropped only because a
    neighbour that was itself dropped cut its side short is judged again between the kept ones."""
    changes = _place(f, f.bkps, higher_is_better, config)
    kept = {c.index for c in changes}
    if len(kept) == len(f.bkps):
        return changes
    for b in f.bkps:
        if any(abs(b - k) <= config.refine for k in kept):
            continue
        around = sorted(kept | {b})
        c = next((c for c in _place(f, around, higher_is_better, config, only=b)), None)
        if c is not None:
            changes.append(c)
            kept.add(c.index)
    return sorted(changes, key=lambda c: c.index)


def _place(f: Fit, bkps: list[int], higher_is_better: bool, config: DetectorConfig,
           only: int | None = None) -> list[Change]:
    edges = [0, *bkps, f.n]
    changes = []
    for i, b in enumerate(bkps):
        if only is not None and b != only:
            continue
        lo, hi = max(edges[i], b - config.window), min(edges[i + 2], b + config.window)
        if config.refine and f.phi > 0:
            # The span stays fixed while the boundary moves, so the z-scores compare like with like.
            cands = range(max(lo + 2, b - config.refine), min(hi - 1, b + config.refine + 1))
            if len(cands):
                b = max(cands, key=lambda k: abs(step_z(f.clean[lo:k], f.clean[k:hi], f.sigma, f.phi)))
            c = _judged_at(f, b, i, edges, higher_is_better, config)
        else:
            c = _judged_at(f, b, i, edges, higher_is_better, config)
            if c is not None and config.refine:
                # The move decides where, not whether: kept or dropped where PELT put it.
                moved = likeliest_place(f.y, edges[i:i + 3], b, config.refine, config.window)
                if moved != b:
                    c = _judged_at(f, moved, i, edges, higher_is_better, config) or c
        if c is not None:
            changes.append(c)
    return changes


def _judged_at(f: Fit, b: int, i: int, edges: list[int], higher_is_better: bool,
               config: DetectorConfig) -> Change | None:
    lo, hi = max(edges[i], b - config.window), min(edges[i + 2], b + config.window)
    return make_change(f, b, lo, hi, higher_is_better, config)


def scan_recent(f: Fit, changes: list[Change], higher_is_better: bool, config: DetectorConfig) -> Change | None:
    """The strongest step among the newest ``scan`` commits, which PELT's series-wide penalty is slow to split
    off, when it is not already one of ``changes``."""
    n = f.n
    last = max([c.index for c in changes] + [0])
    best = None
    for b in range(max(last + 2, n - config.scan), n - config.confirm_after + 1):
        if any(abs(c.index - b) <= 3 for c in changes):
            continue
        before = f.clean[max(last, b - config.window): b]
        if before.size < 2:
            continue
        z = f.z(before, f.clean[b:])
        if z >= config.z_min and (best is None or z > best[1]):
            best = (b, z)
    if best is None:
        return None
    b = best[0]
    return make_change(f, b, max(last, b - config.window), n, higher_is_better, config)


def judge_tail(f: Fit, changes: list[Change], higher_is_better: bool, config: DetectorConfig) -> Change | None:
    """The last one or two points, which the filter cannot judge yet: suspected when they all leave the current
    level by more than ``tail_z`` sigma the same way."""
    n = f.n
    last_start = f.bkps[-1] if f.bkps else 0
    for m in (1, 2):
        if n - m - last_start < 3:
            continue
        lo = max(last_start, n - m - config.window)
        dev = f.y[n - m:] - float(np.median(f.y[lo:n - m]))
        if np.all(np.abs(dev) > config.tail_z * f.sigma) and (np.all(dev > 0) or np.all(dev < 0)):
            c = make_change(f, n - m, lo, n, higher_is_better, config, tail=True)
            if c is not None and not any(ch.index >= n - m for ch in changes):
                return c
            return None
    return None


def _detect_once(x: np.ndarray, higher_is_better: bool, config: DetectorConfig) -> list[Change]:
    if x.size < 4:
        return []
    f = fit(x, config)
    changes = place(f, higher_is_better, config)
    recent = scan_recent(f, changes, higher_is_better, config)
    if recent is not None:
        changes = sorted([*changes, recent], key=lambda c: c.index)
    tail = judge_tail(f, changes, higher_is_better, config)
    return transients(f, [*changes, tail] if tail is not None else changes, config)


# --- state ------------------------------------------------------------------------------------------------


def confirm(x: np.ndarray, changes: list[Change], higher_is_better: bool, config: DetectorConfig) -> None:
    """A confirmed change below ``persist_z`` must show, in any state, in the series without its newest commit
    too (within ``persist`` commits), or it is set back to suspected."""
    logs = np.log(x) if x.size and np.all(x > 0) else None
    for c in changes:
        # A new level that has only just outlasted a transient, whose newest commits (those past transient_max)
        # are back nearer the old level, may yet be one.
        extra = c.n_after - config.transient_max
        if (c.state == "confirmed" and c.kind != "transient" and 1 <= extra <= 2 and logs is not None
                and c.before > 0 and c.after > 0):
            newest = float(np.median(logs[-extra:]))
            if abs(newest - np.log(c.after)) > abs(newest - np.log(c.before)):
                c.state = "suspected"
    young = [c for c in changes if c.state == "confirmed" and c.z < config.persist_z]
    if not config.persist or not young:
        return
    prev_config = replace(config, confirm_after=max(config.confirm_after - 1, 1))
    prev = _detect_once(x[:-1], higher_is_better, prev_config)
    low = None

    def shown(c: Change, found: list[Change]) -> bool:
        return any(p.kind == c.kind and abs(p.index - c.index) <= config.persist for p in found)

    for c in young:
        if shown(c, prev):
            continue
        # With more than confirm_after commits at the new level, the shorter series need only show it at
        # persist_z_min.
        if c.n_after > config.confirm_after and config.persist_z_min < config.z_min:
            if low is None:
                low = _detect_once(x[:-1], higher_is_better, replace(prev_config, z_min=config.persist_z_min))
            if shown(c, low):
                continue
        c.state = "suspected"


def transients(f: Fit, changes: list[Change], config: DetectorConfig) -> list[Change]:
    """A change whose new level lasts at most ``transient_max`` commits before the series comes back is a
    transient, not a regression and its fix.  Back where it was (no significant change, within half the
    excursion): the return is not a change of its own.  Back past or short of where it was, the excursion lying
    beyond both levels (a spike beside a lasting step): the transient, and one step from the level before the
    spike to the level after it, at the first commit after the spike."""
    bounds = sorted(set(f.bkps) | {c.index for c in changes})
    out: list[Change] = []
    returns: set[int] = set()
    steps: dict[int, Change] = {}
    for c in changes:
        if c.index in returns:
            continue
        ends = [b for b in bounds if b > c.index]
        e = ends[0] if ends else f.n
        if c.kind != "transient" and (e - c.index > config.transient_max or e >= f.n):
            # The return may be too near the end, or too small against the series-wide penalty, for a change
            # point of its own: looked for directly among the next transient_max commits.
            e = _return_within(f, c, bounds, config) or e
        # A return resting on the newest commit alone is not yet a return (it may be that commit's outlier).
        if c.kind == "transient" or e - c.index > config.transient_max or e >= f.n - 1:
            out.append(c)
            continue
        stop = min([b for b in ends if b > e] + [f.n, e + config.local_window])
        lo = max([0] + [b for b in bounds if b < c.index] + [c.index - config.local_window])
        before, after = f.y[lo:c.index], f.y[e:stop]  # raw: the filter reads the newest commits from too few
        during = float(np.median(f.y[c.index:e]))
        mb, ma = float(np.median(before)), float(np.median(after))
        gap = abs(ma - mb)
        same = before.size < 2 or f.z(before, after) < config.z_min
        # A spike: beyond both levels, back at least half-way, and much further out than the step it leaves
        # (a slow run just before a small step is that step, placed by the likelihood, not a spike).
        spike = (np.sign(during - mb) == np.sign(during - ma) and abs(during - ma) >= 0.5 * abs(during - mb)
                 and abs(during - ma) > 1.5 * gap)
        if (gap < 0.5 * abs(during - mb) and same) or spike:
            out.append(replace(c, kind="transient", state="confirmed", n_after=e - c.index))
            returns.add(e)
            if not same:
                step = _step_across(f, lo, c.index, e, stop, config)
                if step is not None:
                    steps[e] = step
        else:
            out.append(c)
    kept = [c for c in out if c.index not in returns or c.kind == "transient"]
    return sorted(kept + list(steps.values()), key=lambda c: (c.index, c.kind != "transient"))


def _return_within(f: Fit, c: Change, bounds: list[int], config: DetectorConfig) -> int | None:
    """The first commit, within ``transient_max`` after the change ``c``, from which the series is back on the
    side of the half-way line where it was before (all points of the excursion but one beyond it, the medians of
    what follows and of its first three short of it, at least two points after); None if there is none."""
    lo = max([0] + [b for b in bounds if b < c.index] + [c.index - config.local_window])
    before = f.y[lo:c.index]
    if before.size < 2:
        return None
    mb = float(np.median(before))
    for e in range(c.index + 1, min(c.index + config.transient_max, f.n - 2) + 1):
        during = f.y[c.index:e]
        mid = (float(np.median(during)) + mb) / 2
        side = np.sign(float(np.median(during)) - mb)
        stop = min([b for b in bounds if b > e] + [f.n, e + config.local_window])
        after = f.y[e:stop]
        beyond = int(np.sum(side * (during - mid) > 0))
        if (after.size >= 2 and beyond >= max(1, during.size - 1) and side * (float(np.median(after)) - mid) < 0
                and side * (float(np.median(after[:3])) - mid) < 0):
            return e
    return None


def _step_across(f: Fit, lo: int, start: int, e: int, stop: int, config: DetectorConfig) -> Change | None:
    """The lasting step from ``lo:start`` to ``e:stop`` across a transient (``start:e``), or None when it is too
    small or not significant."""
    before, after = f.y[lo:start], f.y[e:stop]
    if before.size < 2 or after.size < 1:
        return None
    mb, ma = float(np.median(before)), float(np.median(after))
    rel = float(np.expm1(ma - mb)) if not f.scale else float(ma - mb)
    z = f.z(f.clean[lo:start], f.clean[e:stop])
    p = float(stats.mannwhitneyu(before, after, alternative="two-sided").pvalue)
    if abs(rel) < config.min_rel_change or z < config.z_min or not (
            p <= config.p_max or (min(before.size, after.size) >= 3 and _separated(before, after))):
        return None
    n_after = f.n - e
    state: State = "confirmed" if n_after >= max(config.confirm_after, config.transient_max + 1) else "suspected"
    to = np.exp if not f.scale else (lambda v: v * f.scale)
    trend = f.slope * e
    return Change(index=int(e), before=float(to(mb + trend)), after=float(to(ma + trend)), rel_change=rel,
                  z=float(z), p_value=p, state=state, kind="regression" if (ma > mb) else "improvement",
                  n_after=int(n_after))


def detect(values: np.ndarray | list[float], *, higher_is_better: bool = False,
           config: DetectorConfig = DetectorConfig()) -> list[Change]:
    """Changes in ``values`` (one series, oldest first), oldest first.  Non-finite values are left out; the
    indices count every value."""
    x = np.asarray(values, dtype=float)
    keep = np.flatnonzero(np.isfinite(x))
    if keep.size < x.size:
        return [replace(c, index=int(keep[c.index])) for c in detect(x[keep], higher_is_better=higher_is_better,
                                                                     config=config)]
    with np.errstate(all="ignore"):
        changes = _detect_once(x, higher_is_better, config)
        confirm(x, changes, higher_is_better, config)
    return changes
