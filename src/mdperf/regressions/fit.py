"""The detector's settings and records, and :func:`fit`: one series' noise read, its outliers filtered and its
levels segmented (PELT through ruptures, ramps told from steps); :func:`make_change` judges one change point
(docs/design/detector.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np
import ruptures
from scipy import stats

from .noise import (
    _diffs,
    _trimmed_sigma,
    _z_reader,
    alternation,
    dealternated,
    hampel,
    jumps,
    noise_model,
    step_z,
    variogram_phi,
)

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


def _transform(values: np.ndarray) -> tuple[np.ndarray, float]:
    """Log values, or, for a series not positive throughout, values over their typical size (returned; 0 for
    logs)."""
    if np.all(values > 0) and np.all(np.isfinite(np.log(values))):
        return np.log(values), 0.0
    for scale in (float(np.median(np.abs(values))), float(np.max(np.abs(values), initial=0.0)), 1.0):
        if scale > 1e-300 and np.isfinite(scale) and np.all(np.isfinite(values / scale)):
            return values / scale, scale
    return np.clip(values, -1e300, 1e300) / 1e300, 1e300


# PELT's work grows about as the square of a series' length (87 ms at 5,000 points against 13 ms at 2,000): a longer
# series is segmented in blocks of BLOCK points that overlap by twice MARGIN, each keeping the change points of its
# middle, so the work per point is bounded (docs/design/detector.md, "Long series").
BLOCK, MARGIN = 1024, 64


def _pelt(y: np.ndarray, pen: float) -> list[int]:
    return [int(b) for b in ruptures.KernelCPD(kernel="linear", min_size=2, jump=1).fit(y.reshape(-1, 1)).predict(pen=pen)
            if b < y.size]


def _blocks(n: int) -> list[tuple[int, int, int, int]]:
    """(start, end, keep_from, keep_to) of each block of a series of ``n`` points: one block up to BLOCK points."""
    if n <= BLOCK:
        return [(0, n, 0, n)]
    out, start = [], 0
    while True:
        end = min(start + BLOCK, n)
        keep_to = n if end == n else end - MARGIN
        out.append((start, end, start + MARGIN if start else 0, keep_to))
        if end == n:
            return out
        start = keep_to - MARGIN


def _segment(y: np.ndarray, pen: float) -> tuple[list[int], float]:
    """PELT with an L2 cost: change points and the penalised cost of the segmentation."""
    bkps = [start + b for start, end, lo, hi in _blocks(y.size) for b in _pelt(y[start:end], pen)
            if lo <= start + b < hi]
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
    gap: float = 0.0  # the alternation taken out of y (noise.alternation)

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
    # Two modes in turn (a runner alternating between two states run by run): the lag-1 noise reading would take
    # their gap for noise and hide every change smaller than it.
    gap = alternation(y)
    y = dealternated(y, gap)
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
    return Fit(y, clean, scale, sigma, phi, bkps, slope, zf, gap)


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
