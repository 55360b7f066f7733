"""Suspicions: changes the history cannot show yet, taken up by ``mdperf confirm`` so that a step is re-measured
the night it lands — the newest commit of a series that looks worse than its recent level (``--new``), and a
measured commit against its parent when a person asks (``mdperf confirm COMMIT``).  Neither is in the report:
only the re-measurement's verdict is."""

from __future__ import annotations

import numpy as np

from ..history import History
from .model import Flag

# The newest commit of a series is taken up when its value lies this many noise sigmas (and at least
# TRIGGER_MIN_PCT) on the bad side of its recent level: a step the history cannot confirm yet is re-measured the
# night it lands (docs/results/confirm-eval.md: the trade-off between this and the re-measurements a night costs).
TRIGGER_SIGMA = 1.0
TRIGGER_MIN_PCT = 0.5
RECENT = 20  # the recent level and noise: up to this many points before the newest
# The newest-commit trigger reads the step time only: each case carries a dozen series, and a trigger on any of
# them would take up nearly every case every night.
TRIGGER_BENCHMARKS = (".track_latency_p50_ms",)


def suspicion(values: np.ndarray, higher_is_better: bool, sigma: float = TRIGGER_SIGMA,
              min_pct: float = TRIGGER_MIN_PCT) -> tuple[float, float] | None:
    """(recent level, newest value) when the newest value lies on the bad side of the recent level by more than
    ``sigma`` robust noise sigmas and ``min_pct`` per cent; else None."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size < 6:  # too young to say what its level is
        return None
    recent, newest = x[-RECENT - 1:-1], float(x[-1])
    level = float(np.median(recent))
    if level == 0:
        return None
    noise = 1.4826 * float(np.median(np.abs(np.diff(recent)))) / np.sqrt(2)  # differences: steps left out
    worse = level - newest if higher_is_better else newest - level
    if worse > max(sigma * noise, abs(level) * min_pct / 100):
        return level, newest
    return None


def newest_suspicions(hist: History, machine: str, sigma: float = TRIGGER_SIGMA) -> list[Flag]:
    """A suspected regression at the newest commit of each series of ``machine`` that looks worse than its recent
    level (:func:`suspicion`); not in the report — only what confirm takes up."""
    out = []
    pos = hist.position()
    for s in hist.series:
        if s.machine != machine or not s.commits or not s.benchmark.endswith(TRIGGER_BENCHMARKS):
            continue
        found = suspicion(np.asarray(s.values, dtype=float), s.higher_is_better, sigma)
        if found is None:
            continue
        level, newest = found
        out.append(Flag.at(s, s.commits[-1], s.commits[-2] if len(s.commits) > 1 else None, hist, pos,
                           kind="regression", state="suspected", detected="suspected",
                           change_pct=100 * (newest / level - 1), before=level,
                           after=newest, new=True, commits_at_level=1,
                           note="the newest commit, worse than its recent level"))
    return out


def at_commits(hist: History, machine: str, commits: list[str]) -> list[Flag]:
    """The step-time series of ``machine`` at the given commits, as suspected changes against the median of up to
    5 points before (a regression or an improvement by their direction), so that ``mdperf confirm COMMIT``
    answers "is this commit slower than its parent?" for any measured commit; a flag of the report on the same
    series and commit comes first (confirm keeps one per benchmark)."""
    out = []
    pos = hist.position()
    for s in hist.series:
        if s.machine != machine or not s.benchmark.endswith(TRIGGER_BENCHMARKS):
            continue
        for c in commits:
            hit = [i for i, k in enumerate(s.commits) if k.startswith(c)]
            if not hit or hit[0] == 0 or s.values[hit[0]] is None:
                continue
            i = hit[0]
            prior = np.asarray([v for v in s.values[max(0, i - 5):i] if v is not None], dtype=float)
            if not prior.size:
                continue
            before, after = float(np.median(prior)), float(s.values[i])
            worse = after < before if s.higher_is_better else after > before
            out.append(Flag.at(s, s.commits[i], s.commits[i - 1], hist, pos,
                               kind="regression" if worse else "improvement", state="suspected", detected="suspected",
                               change_pct=100 * (after / before - 1) if before else 0.0, before=before, after=after,
                               new=False, commits_at_level=1, note="asked for by commit"))
    return out
