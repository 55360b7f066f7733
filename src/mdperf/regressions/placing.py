"""Where each change lies and whether it stands: :func:`place` judges and places the segmentation's change points;
:func:`scan_recent` and :func:`judge_tail` look at the newest commits on their own (docs/design/detector.md)."""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from .fit import Change, DetectorConfig, Fit, make_change
from .noise import step_z


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
