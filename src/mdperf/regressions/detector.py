"""Change-point detection on one benchmark series.

1. Work on log values, so steps are relative and noise is a coefficient of variation.
2. Noise from the series itself: 1.4826 * MAD of first differences / sqrt(2) — robust to steps and outliers.
3. A Hampel filter (centred rolling median of 5) replaces points more than ``hampel_k`` sigma from their
   neighbourhood: a single-commit spike that reverts is an outlier, not a change. A step of three or more
   commits survives it.
4. Change points by PELT with an L2 cost (ruptures' KernelCPD with a linear kernel, compiled) and a penalty
   of ``penalty_beta * sigma^2 * log(n)``.
5. Each change is kept if its relative size (medians of the ``local_window`` commits each side: a slow ramp
   has no local jump) is at least ``min_rel_change`` and its z-score (means over ``window`` commits each side,
   over the noise) at least ``z_min``; its significance is also given as the two-sided
   Mann-Whitney U p-value of the raw values before and after.
6. A change is *confirmed* once ``confirm_after`` commits sit at the new level, *suspected* before; the last
   one or two commits, which the filter cannot judge yet, are flagged *suspected* when they all leave the
   current level by more than the thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import ruptures
from scipy import stats
from scipy.ndimage import median_filter

State = Literal["confirmed", "suspected"]
Kind = Literal["regression", "improvement"]


@dataclass(frozen=True)
class DetectorConfig:
    min_rel_change: float = 0.01
    penalty_beta: float = 3.5
    z_min: float = 3.5
    hampel_k: float = 4.0
    confirm_after: int = 3
    window: int = 12  # points each side for the z-score
    local_window: int = 8  # points each side for the levels and the size: a slow ramp has no local jump
    tail_z: float = 6.0
    p_max: float = 0.05  # Mann-Whitney U, raw values: guards against shapes the z-score misreads


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
    n_after: int = 0
    extra: dict = field(default_factory=dict)


def robust_sigma(y: np.ndarray) -> float:
    """The larger of two robust estimates: from first differences (blind to steps, but low under positively
    correlated noise) and from residuals around a rolling median of 11 (right under correlation)."""
    if y.size < 3:
        return float("nan")
    d = np.diff(y)
    from_diff = 1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(2)
    r = y - rolling_median(y, half=5)
    from_level = 1.4826 * np.median(np.abs(r - np.median(r)))
    return float(max(from_diff, from_level))


def rolling_median(y: np.ndarray, half: int = 2) -> np.ndarray:
    """Centred rolling median, the window truncated at the ends (so the newest points are judged only by
    what came before them and themselves)."""
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
    cleaned = np.where(outlier, med, y)
    return cleaned, outlier


def _transform(values: np.ndarray) -> tuple[np.ndarray, bool]:
    if np.all(values > 0):
        return np.log(values), True
    scale = np.median(np.abs(values)) or 1.0
    return values / scale, False


def detect(values: np.ndarray | list[float], *, higher_is_better: bool = False,
           config: DetectorConfig = DetectorConfig()) -> list[Change]:
    """Changes in ``values`` (one series, oldest first, no missing points), oldest first."""
    x = np.asarray(values, dtype=float)
    n = x.size
    if n < 4:
        return []
    y, logged = _transform(x)
    sigma = robust_sigma(y)
    # A floor keeps a perfectly flat series (sigma 0) from flagging round-off.
    sigma = max(sigma, 1e-4)
    clean, _ = hampel(y, sigma, config.hampel_k)
    # Correlated noise (neighbouring runs sharing machine state) makes level shifts look likelier than they
    # are: widen the noise by the AR(1) variance factor of the mean, from the lag-1 autocorrelation.
    phi = lag1_autocorrelation(clean)
    sigma_eff = sigma * np.sqrt((1 + phi) / (1 - phi))
    pen = config.penalty_beta * sigma_eff**2 * np.log(n)
    algo = ruptures.KernelCPD(kernel="linear", min_size=2, jump=1).fit(clean.reshape(-1, 1))
    bkps = [int(b) for b in algo.predict(pen=pen) if b < n]

    def level(seg: np.ndarray) -> float:
        return float(np.median(seg))

    changes: list[Change] = []
    edges = [0, *bkps, n]
    for i, b in enumerate(bkps):
        lo = max(edges[i], b - config.window)
        hi = min(edges[i + 2], b + config.window)
        c = _make_change(b, y[lo:b], y[b:hi], clean[lo:b], clean[b:hi], sigma_eff, logged, higher_is_better,
                         config, n)
        if c is not None:
            changes.append(c)
    # The tail: the last one or two points cannot be judged by the filter yet.
    last_start = bkps[-1] if bkps else 0
    for m in (1, 2):
        if n - m - last_start < 3:
            continue
        base = y[max(last_start, n - m - config.window): n - m]
        tail = y[n - m:]
        dev = tail - level(base)
        if np.all(np.abs(dev) > config.tail_z * sigma) and (np.all(dev > 0) or np.all(dev < 0)):
            c = _make_change(n - m, base, tail, base, tail, sigma_eff, logged, higher_is_better, config, n,
                             tail=True)
            if c is not None and not any(ch.index >= n - m for ch in changes):
                changes.append(c)
            break
    return changes


def lag1_autocorrelation(y: np.ndarray) -> float:
    """Lag-1 autocorrelation of the residuals around a rolling median; 0 unless above twice its standard error
    (iid noise would otherwise widen the threshold by chance), at most 0.9."""
    r = y - rolling_median(y, half=5)
    if r.size < 10 or np.std(r) == 0:
        return 0.0
    phi = float(np.corrcoef(r[:-1], r[1:])[0, 1])
    return float(min(phi, 0.9)) if phi > 2 / np.sqrt(r.size) else 0.0


def _make_change(b, before, after, before_clean, after_clean, sigma, logged, higher_is_better, config, n,
                 tail=False) -> Change | None:
    if before.size == 0 or after.size == 0:
        return None
    # Levels and size: medians of the raw values right next to the change; the z-score: means of the
    # outlier-cleaned values over the wider window, over the noise.
    w = config.local_window
    mb, ma = float(np.median(before[-w:])), float(np.median(after[:w]))
    delta = ma - mb
    rel = float(np.expm1(delta)) if logged else float(delta)
    dz = float(np.mean(after_clean) - np.mean(before_clean))
    z = abs(dz) / (sigma * np.sqrt(1 / before.size + 1 / after.size))
    if abs(rel) < config.min_rel_change:
        return None
    if not tail and z < config.z_min:
        return None
    p = float(stats.mannwhitneyu(before, after, alternative="two-sided").pvalue) if before.size > 1 else float("nan")
    if not tail and not p <= config.p_max:
        return None
    worse = (delta < 0) if higher_is_better else (delta > 0)
    n_after = n - b
    state: State = "confirmed" if (n_after >= config.confirm_after and not tail) else "suspected"
    to = np.exp if logged else (lambda v: v)
    return Change(index=int(b), before=float(to(mb)), after=float(to(ma)), rel_change=rel, z=float(z), p_value=p,
                  state=state, kind="regression" if worse else "improvement", n_after=int(n_after))
