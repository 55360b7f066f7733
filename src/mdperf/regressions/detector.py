"""Change-point detection on one benchmark series.

1. Work on log values, so steps are relative and noise is a coefficient of variation.
2. Noise from the series itself (:func:`noise_model`): a marginal sigma from the spread of differences, and
   an AR(1) coefficient phi from the rank autocorrelation of the differences — both blind to steps, outliers
   and slow ramps.  Neighbouring runs often share machine state; ignoring that makes wander look like steps.
3. A Hampel filter (centred rolling median of 5) replaces points more than ``hampel_k`` sigma from their
   neighbourhood: a single-commit spike that reverts is an outlier, not a change. A step of three or more
   commits survives it.
4. Change points by PELT with an L2 cost (ruptures' KernelCPD with a linear kernel, compiled) and a penalty
   of ``penalty_beta * sigma_lr^2 * log(n)`` (sigma_lr: the long-run sigma under AR(1)).  phi is then read
   again within the segments found, from the differences at every lag up to 8 (:func:`variogram_phi`, far
   less noisy than lag 1 alone); where it differs by more than 0.1, sigma and the change points follow it.
   When one shared
   slope explains the series at a lower penalised cost than PELT's staircase, the change points are sought
   in the detrended series: a slow ramp is not a run of steps.  Each change point is then moved by up to
   ``refine`` commits: under AR(1) noise to where the generalised least-squares jump is strongest; under
   independent noise to its likeliest place under the noise's own density, read from the series
   (:func:`likeliest_place`: clock states and outliers are not Gaussian).  Then the newest
   ``scan`` commits are scanned on their own for the strongest step, which PELT's series-wide penalty is
   slow to split off.
5. Each change is kept if its relative size (medians of the ``local_window`` commits each side) is at least
   ``min_rel_change`` and its z-score at least ``z_min``: the generalised least-squares level shift over up
   to ``window`` commits each side under the AR(1) noise, over its standard error (:func:`step_z`), read
   through Student's t for the uncertainty of a sigma estimated from the series (so a z-score means the same
   on 20 commits as on 1,000); its significance is also given as the two-sided Mann-Whitney U p-value of the
   raw values before and after, which must not exceed ``p_max``.
6. A change is *confirmed* once ``confirm_after`` commits sit at the new level and the series without its
   newest commit shows it too (``persist``; a z-score of ``persist_z`` needs no such wait; with more than
   ``confirm_after`` commits at the new level the shorter series need only show it at ``persist_z_min``),
   *suspected* before; the last
   one or two commits, which the filter cannot judge yet, are flagged *suspected* when they all leave the
   current level by more than ``tail_z`` sigma.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import ruptures
from scipy import stats
from scipy.ndimage import median_filter
from scipy.special import logsumexp

State = Literal["confirmed", "suspected"]
Kind = Literal["regression", "improvement"]


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
    p_max: float = 0.05  # Mann-Whitney U, raw values: guards against shapes the z-score misreads
    persist: int = 3  # confirmed only if found, this near, without the newest commit too (0: off)...
    persist_z: float = 5.0  # ... unless its z-score is at least this
    persist_z_min: float = 3.0  # z-score the shorter series must show it at once more than confirm_after commits sit
    # at the new level (z_min while only confirm_after do)


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


def _mad_sigma(x: np.ndarray) -> float:
    return float(1.4826 * np.median(np.abs(x - np.median(x))))


# Standard deviation of a standard normal truncated to its central 90 %: corrects the trimmed sd below.
_TRIM = 0.10
_TRIMMED_NORMAL_SD = float(np.sqrt(stats.truncnorm.var(-stats.norm.isf(_TRIM / 2), stats.norm.isf(_TRIM / 2))))


def _trimmed_sigma(x: np.ndarray) -> float:
    """Standard deviation of the central 90 % of ``x`` (the farthest 10 % from the median dropped), scaled to
    read a normal sample's sigma.  Far less variable than the MAD on short series (which read sigma 20 % too
    low on one 40-commit series in 7, inflating every z-score of it; this, on one in 27), and the dropped
    tail holds the few differences a step touches."""
    dev = np.sort(np.abs(x - np.median(x)))
    keep = dev[: max(2, int(np.ceil((1 - _TRIM) * dev.size)))]
    return float(np.sqrt(np.mean(keep**2)) / _TRIMMED_NORMAL_SD)


def noise_model(y: np.ndarray, scale: Literal["mad", "trimmed"] = "mad",
                phi: float | None = None) -> tuple[float, float]:
    """Marginal noise sigma and lag-1 autocorrelation phi of a series that may hold steps, outliers and ramps.

    ``scale``: the spread of the differences from their MAD (for a series that still holds its outliers) or
    from their trimmed standard deviation (for one already cleaned of them: far less variable).

    Differences are blind to steps (a step touches a few of them) and, centred on their median, to slow ramps.
    For AR(1) noise Var(y[t+k] - y[t]) = 2 sigma^2 (1 - phi^k): lag-1 differences alone read sigma too low
    when neighbouring runs are correlated, so with phi > 0 sigma comes from lag-4 differences instead.  phi
    comes from the rank autocorrelation of the first differences, kept only when above 1 / sqrt(n)
    (:func:`_significant_phi`), at most 0.9.  ``phi`` given: sigma
    for that phi (the detector's second reading, :func:`variogram_phi`).
    """
    n = y.size
    if n < 3:
        return float("nan"), 0.0
    spread = _mad_sigma if scale == "mad" else _trimmed_sigma
    if phi is None:
        phi = 0.0
        if n >= 10:
            # First differences of AR(1) noise have lag-1 correlation -(1 - phi) / 2.  A rank correlation of
            # the differences is blind to a step (one large difference) and to a ramp (a constant added to all).
            d = np.diff(y)
            rho = float(stats.spearmanr(d[:-1], d[1:]).statistic)
            if np.isfinite(rho):
                phi = _significant_phi(1 + 2 * rho, n)
    if phi > 0 and n >= 8:
        sigma = spread(y[4:] - y[:-4]) / np.sqrt(2 * (1 - phi**4))
    else:
        sigma = spread(np.diff(y)) / np.sqrt(2)
        if n >= 8:
            # phi is noisy on a short series and is read as 0 when below 1 / sqrt(n): if the noise is
            # correlated all the same, lag-1 differences read sigma too low (by sqrt(1 - phi)) and lag-4 ones
            # do not.  For independent noise both read sigma, their ratio within about 0.87 / sqrt(n) of 1
            # (a variance-ratio test): lag 4 is taken only when it reads clearly more.
            sigma4 = spread(y[4:] - y[:-4]) / np.sqrt(2)
            if sigma4 > sigma * (1 + 1 / np.sqrt(n)):
                sigma = sigma4
    return float(sigma), float(phi)


# AR(1) noise: the variance of lag-k differences is 2 sigma^2 (1 - phi^k).  The lags fitted and, for each
# trial phi of a grid, log(1 - phi^k).
_PHI_LAGS = np.arange(1, 9)
_PHI_GRID = np.linspace(-0.5, 0.95, 59)
_PHI_SHAPE = np.log(1 - _PHI_GRID[:, None] ** _PHI_LAGS)


def _significant_phi(est: float, n: int) -> float:
    # Kept only when above 1 / sqrt(n), half the rank estimate's standard error: a small phi wrongly kept on
    # independent noise widens the thresholds a little, but correlated noise read as independent inflates every
    # z-score of a short series.  At 2 / sqrt(n), phi read 0 in over half of the nightly false alarms on AR(1)
    # ramps; 1 / sqrt(n) cut nightly false alarms by 16-20 % for 3-6 % fewer step reports by the third
    # commit after (two seed sets, docs/regressions.md).
    return min(est, 0.9) if est > 1 / np.sqrt(n) else 0.0


def variogram_phi(y: np.ndarray, bkps: list[int]) -> float:
    """AR(1) coefficient fitted to the spread of the differences at lags 1 to K (8, at most n / 3), taken
    within the segments between change points ``bkps``: the phi of the grid whose log(1 - phi^k) best follows
    the log variances, the scale left free.  Every lag informs phi, not lag 1 alone: at phi = 0.5 on 150
    commits its spread is 0.10, against 0.15 for the rank autocorrelation of first differences.  Differences
    spanning a change point would read a step as correlation, so none is taken across one."""
    n = y.size
    k = min(_PHI_LAGS.size, n // 3)
    if n < 10 or k < 2:
        return 0.0
    edges = [0, *bkps, n]
    v = []
    for j in range(1, k + 1):
        d = np.concatenate([y[a + j:b] - y[a:b - j] for a, b in zip(edges, edges[1:]) if b - a > j])
        v.append(_trimmed_sigma(d) if d.size >= 4 else 0.0)
    v = np.asarray(v)
    if np.any(v <= 0):
        return 0.0
    misfit = np.var(2 * np.log(v) - _PHI_SHAPE[:, :k], axis=1)  # the free scale takes out the mean
    return _significant_phi(float(_PHI_GRID[np.argmin(misfit)]), n)


def step_z(before: np.ndarray, after: np.ndarray, sigma: float, phi: float) -> float:
    """z-score of a level shift between two adjacent blocks under AR(1) noise (sigma, phi): the generalised
    least-squares estimate of the shift over its standard error.  With phi = 0 it is the difference of the
    block means over sigma * sqrt(1/n_before + 1/n_after); with phi > 0 it weighs the jump at the boundary,
    which correlated noise rarely makes, above the slow wander of the levels, which it often does."""
    y = np.concatenate([before, after])
    n = y.size
    x = np.column_stack([np.ones(n), (np.arange(n) >= before.size).astype(float)])
    # Prais-Winsten: whitening the AR(1) noise turns the GLS fit into ordinary least squares.
    if phi > 0:
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


def _z_reader(sigma: float, phi: float, df: float):
    """z-score of a level shift, read through Student's t with ``df`` degrees of freedom (sigma is an
    estimate) and given back as the normal z of the same tail probability."""
    def z(before: np.ndarray, after: np.ndarray) -> float:
        raw = abs(step_z(before, after, sigma, phi))
        tail = float(stats.t.sf(raw, df))
        return float(stats.norm.isf(tail)) if tail > 0 else raw  # beyond float range: the raw z, finite
    return z


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


def _transform(values: np.ndarray) -> tuple[np.ndarray, float]:
    """Log values, or, for a series that is not positive throughout, values over their typical size (the
    scale returned; 0 for logs)."""
    if np.all(values > 0):
        return np.log(values), 0.0
    scale = float(np.median(np.abs(values))) or 1.0
    return values / scale, scale


def detect(values: np.ndarray | list[float], *, higher_is_better: bool = False,
           config: DetectorConfig = DetectorConfig()) -> list[Change]:
    """Changes in ``values`` (one series, oldest first, no missing points), oldest first."""
    x = np.asarray(values, dtype=float)
    changes = _detect_once(x, higher_is_better, config)
    young = [c for c in changes if c.state == "confirmed" and c.z < config.persist_z]
    if config.persist and young:
        # A confirmed flag must not hang on the newest commit alone: the series without it must show the same
        # change, in any state (its scan reaching one commit nearer the end, where that change then stood).
        # On growing histories a third of the false alarms lived for a single night.
        prev_config = replace(config, confirm_after=max(config.confirm_after - 1, 1))
        prev = _detect_once(x[:-1], higher_is_better, prev_config)
        low = None

        def shown(c: Change, found: list[Change]) -> bool:
            return any(p.kind == c.kind and abs(p.index - c.index) <= config.persist for p in found)

        for c in young:
            if shown(c, prev):
                continue
            # With one more commit at the new level the shorter series holds confirm_after of them, and a
            # z-score of persist_z_min there already shows that the change does not rest on the newest commit
            # alone.  At z_min (3.5) it held back a quarter of 3 %/1 % steps for one more night and saved
            # one alarm per seven such reports (docs/regressions.md).
            if c.n_after > config.confirm_after and config.persist_z_min < config.z_min:
                if low is None:
                    low = _detect_once(x[:-1], higher_is_better, replace(prev_config, z_min=config.persist_z_min))
                if shown(c, low):
                    continue
            c.state = "suspected"
    return changes


def _detect_once(x: np.ndarray, higher_is_better: bool, config: DetectorConfig) -> list[Change]:
    n = x.size
    if n < 4:
        return []
    y, scale = _transform(x)
    sigma, _ = noise_model(y)
    # A floor keeps a perfectly flat series (sigma 0) from flagging round-off.
    sigma = max(sigma, 1e-4)
    clean, _ = hampel(y, sigma, config.hampel_k)
    # Correlated noise (neighbouring runs sharing machine state) makes level shifts look likelier than they
    # are: the penalty uses the long-run variance, the z-score the exact AR(1) covariance of its window.
    sigma, phi = noise_model(clean, "trimmed")
    bkps, slope = _segmentation(clean, sigma, phi, config)
    # phi read again, from every lag, within the segments just found: far less noisy than from lag 1.  Where it
    # differs, sigma and the change points follow it.
    phi2 = variogram_phi(clean - slope * np.arange(n), bkps)
    if abs(phi2 - phi) > 0.1:
        phi = phi2
        sigma, _ = noise_model(clean, "trimmed", phi=phi)
        bkps, slope = _segmentation(clean, sigma, phi, config)
    sigma = max(sigma, 1e-4)
    # Degrees of freedom of sigma: n - 1 differences at the trimmed sd's efficiency on normal noise (~0.8).
    zf = _z_reader(sigma, phi, max(0.8 * (n - 1), 1.0))
    if slope:
        t = np.arange(n, dtype=float)
        clean = clean - slope * t
        y = y - slope * t

    def level(seg: np.ndarray) -> float:
        return float(np.median(seg))

    changes: list[Change] = []
    edges = [0, *bkps, n]

    def change_at(b: int, i: int) -> Change | None:
        lo, hi = max(edges[i], b - config.window), min(edges[i + 2], b + config.window)
        return _make_change(b, y[lo:b], y[b:hi], clean[lo:b], clean[b:hi], sigma, zf, scale, higher_is_better,
                            config, n, slope * b)

    for i, b in enumerate(bkps):
        if config.refine and phi > 0:
            # PELT's L2 cost places a step well in independent noise; under AR(1) noise the GLS jump places it
            # better.  The span stays fixed while the boundary moves, so the z-scores compare like with like.
            lo, hi = max(edges[i], b - config.window), min(edges[i + 2], b + config.window)
            cands = range(max(lo + 2, b - config.refine), min(hi - 1, b + config.refine + 1))
            if len(cands):
                b = max(cands, key=lambda k: abs(step_z(clean[lo:k], clean[k:hi], sigma, phi)))
            c = change_at(b, i)
        else:
            c = change_at(b, i)
            if c is not None and config.refine:
                # Independent noise: the most likely place under the noise's own density, read from the series
                # (clock states and outliers are not Gaussian; L2 misplaces a slow run next to the step).  It
                # decides where, not whether: the edge of a burst of slow runs, moved, reads sharper.
                moved = likeliest_place(y, edges[i:i + 3], b, config.refine, config.window)
                if moved != b:
                    c = change_at(moved, i) or c
        if c is not None:
            changes.append(c)
    # Recent changes: PELT's penalty is set for the whole series and is slow to split off a short last
    # segment, so the newest ``scan`` commits are scanned for the strongest step on their own.
    last = max([c.index for c in changes] + [0])
    best = None
    for b in range(max(last + 2, n - config.scan), n - config.confirm_after + 1):
        if any(abs(c.index - b) <= 3 for c in changes):
            continue
        before = clean[max(last, b - config.window): b]
        if before.size < 2:
            continue
        z = zf(before, clean[b:])
        if z >= config.z_min and (best is None or z > best[1]):
            best = (b, z)
    if best is not None:
        b = best[0]
        lo = max(last, b - config.window)
        c = _make_change(b, y[lo:b], y[b:], clean[lo:b], clean[b:], sigma, zf, scale, higher_is_better,
                         config, n, slope * b)
        if c is not None:
            changes.append(c)
            changes.sort(key=lambda c: c.index)
    # The tail: the last one or two points cannot be judged by the filter yet.
    last_start = bkps[-1] if bkps else 0
    for m in (1, 2):
        if n - m - last_start < 3:
            continue
        base = y[max(last_start, n - m - config.window): n - m]
        tail = y[n - m:]
        dev = tail - level(base)
        if np.all(np.abs(dev) > config.tail_z * sigma) and (np.all(dev > 0) or np.all(dev < 0)):
            c = _make_change(n - m, base, tail, base, tail, sigma, zf, scale, higher_is_better, config, n,
                             slope * (n - m), tail=True)
            if c is not None and not any(ch.index >= n - m for ch in changes):
                changes.append(c)
            break
    return changes


def likeliest_place(y: np.ndarray, edges: list[int], b: int, radius: int, window: int) -> int:
    """The change point between ``edges[0]`` and ``edges[2]``, moved by up to ``radius`` commits from ``b`` to
    where the series is likeliest: the points before at the level before (median), the rest at the level
    after, each point's likelihood from the noise density of these two segments (a Gaussian kernel density of
    their residuals from their medians, Silverman's bandwidth).  Values ``window`` commits or more from ``b``
    do not take part."""
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


def _segmentation(clean: np.ndarray, sigma: float, phi: float, config: DetectorConfig) -> tuple[list[int], float]:
    """Change points by PELT and, where one shared slope explains the series at a lower penalised cost than
    PELT's staircase, that slope (the change points then found in the detrended series)."""
    n = clean.size
    sigma = max(sigma, 1e-4)
    sigma_eff = sigma * np.sqrt((1 + phi) / (1 - phi))
    pen = config.penalty_beta * sigma_eff**2 * np.log(n)
    bkps, cost = _segment(clean, pen)
    slope = 0.0
    # A slow ramp is not a staircase: if one shared slope explains the series at a lower penalised cost,
    # the changes are sought in the detrended series (a slope is one parameter: a change point's penalty,
    # which also pays for searching its place, over penalty_beta).
    t = np.arange(n, dtype=float)
    s_, se = _within_slope(clean, bkps, sigma_eff)
    s0, se0 = _within_slope(clean, [], sigma_eff)
    if n >= 8 and (abs(s_) >= 2 * se or abs(s0) >= 2 * se0):  # no slope to speak of: spare the PELT runs
        # Two starts: the slope within PELT's segments (a step on a ramp) and the slope of the whole series
        # (a ramp PELT has cut into a staircase, whose segments hide it).  From the second the slope replaces
        # the staircase, and a slope fits a small lasting step three quarters as well as a step does: at
        # penalty / 3.5 it took such steps (recall at 1-sigma steps fell by half), so there it costs 0.6 of a
        # change point's penalty.  Under correlated noise the wander of the level fits a whole-series slope
        # about as well as a step does: at 0.6 it took real steps, so there it costs 0.8.
        best_cost = cost
        starts = [(s_, pen / config.penalty_beta), (s0, (0.6 if phi == 0 else 0.8) * pen)]
        for start, slope_pen in starts:
            bk_d, _ = _segment(clean - start * t, pen)
            s_d, _ = _within_slope(clean, bk_d, sigma_eff)
            bk_d, cost_d = _segment(clean - s_d * t, pen)
            if cost_d + slope_pen < best_cost:
                best_cost, slope, bk_best = cost_d + slope_pen, s_d, bk_d
    return (bk_best, slope) if slope else (bkps, 0.0)


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


def _make_change(b, before, after, before_clean, after_clean, sigma, zf, scale, higher_is_better, config, n,
                 trend_at_b=0.0, tail=False) -> Change | None:
    # Values may be detrended; ``trend_at_b`` puts the levels back where the series stood at the change.
    if before.size == 0 or after.size == 0:
        return None
    # Levels and size: medians of the raw values right next to the change; the z-score: the level shift of
    # the outlier-cleaned values over the wider window, over its standard error.
    w = config.local_window
    mb, ma = float(np.median(before[-w:])), float(np.median(after[:w]))
    delta = ma - mb
    rel = float(np.expm1(delta)) if not scale else float(delta)
    z = zf(before_clean, after_clean)
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
    to = np.exp if not scale else (lambda v: v * scale)
    return Change(index=int(b), before=float(to(mb + trend_at_b)), after=float(to(ma + trend_at_b)), rel_change=rel,
                  z=float(z), p_value=p, state=state, kind="regression" if worse else "improvement", n_after=int(n_after))
