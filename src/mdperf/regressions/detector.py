"""Change points of one benchmark series, oldest first: :func:`detect`, the one entry point.

The method, its settings and the evidence behind each are in docs/design/detector.md; in short:
:func:`fit` reads the noise from the series, filters outliers and segments it; :func:`place` judges and
places each change point; :func:`scan_recent` and :func:`judge_tail` look at the newest commits on their
own; :func:`confirm` holds back a flag that rests on the newest commit alone.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy import stats

from .fit import SIGMA_FLOOR, Change, DetectorConfig, Fit, Kind, State, _separated, fit, make_change, segmentation
from .noise import alternation, dealternated, hampel, jumps, noise_model, rolling_median, step_z, variogram_phi
from .placing import judge_tail, likeliest_place, place, scan_recent

__all__ = ["SIGMA_FLOOR", "Change", "DetectorConfig", "Fit", "Kind", "State", "confirm", "detect", "fit", "hampel",
           "judge_tail", "jumps", "likeliest_place", "make_change", "noise_model", "place", "rolling_median",
           "scan_recent", "segmentation", "step_z", "transients", "variogram_phi"]


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


def confirm(x: np.ndarray, changes: list[Change], higher_is_better: bool, config: DetectorConfig) -> None:
    """A confirmed change below ``persist_z`` must show, in any state, in the series without its newest commit
    too (within ``persist`` commits), or it is set back to suspected."""
    logs = np.log(x) if x.size and np.all(x > 0) else None
    if logs is not None:
        logs = dealternated(logs, alternation(logs))
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
           config: DetectorConfig | None = None) -> list[Change]:
    """Changes in ``values`` (one series, oldest first), oldest first.  Non-finite values are left out; the
    indices count every value.  ``config``: the settings (default :class:`DetectorConfig`)."""
    config = config or DetectorConfig()
    x = np.asarray(values, dtype=float)
    keep = np.flatnonzero(np.isfinite(x))
    if keep.size < x.size:
        return [replace(c, index=int(keep[c.index])) for c in detect(x[keep], higher_is_better=higher_is_better,
                                                                     config=config)]
    with np.errstate(all="ignore"):
        changes = _detect_once(x, higher_is_better, config)
        confirm(x, changes, higher_is_better, config)
    return changes
