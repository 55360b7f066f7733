"""What got slower: each function's (or, on CUDA, operator's) time per MD step at the base and at the commit,
over interleaved profiled rounds, ranked by how much its self time grew.

Self time ranks, not total time: a slow function added deep in the calculator raises the total time of every
caller up to the MD loop by the same amount, and only its own self time names it.  Total time is shown beside.
Each figure is the median over rounds; the spread is the range of the per-round differences (round i of the
commit against round i of the base, measured next to each other)."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from typing import Any

TOP = 10  # rows kept in the report, the site and the issue
MIN_SELF_MS = 0.001  # per step: below this at both ends an entry is profiler noise, left out


@dataclass
class Row:
    """One function's (operator's) growth from base to commit, per MD step."""

    name: str
    base_self_ms: float
    commit_self_ms: float
    self_growth_ms: float
    self_growth_pct: float | None  # None: absent at the base (a new function)
    self_growth_range_ms: tuple[float, float]  # the smallest and largest per-round difference
    base_total_ms: float
    commit_total_ms: float
    total_growth_ms: float
    calls_per_step_base: float
    calls_per_step_commit: float
    share_pct: float | None  # of the whole step's growth

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _per_step(rounds: list[dict[str, Any]], name: str, column: int) -> list[float]:
    return [r["entries"].get(name, [0.0, 0.0, 0])[column] / r["steps_run"] * 1e3 for r in rounds]


def step_ms(rounds: list[dict[str, Any]]) -> list[float]:
    """The profiled time per step of each round: the sum of every entry's self time."""
    return [sum(e[0] for e in r["entries"].values()) / r["steps_run"] * 1e3 for r in rounds]


def rank(base: list[dict[str, Any]], commit: list[dict[str, Any]], top: int = TOP) -> list[Row]:
    """The entries whose self time per step grew most from ``base`` to ``commit`` (profiled rounds, in turns)."""
    n = min(len(base), len(commit))
    base, commit = base[:n], commit[:n]
    names = {k for r in base + commit for k in r["entries"]}
    growth = statistics.median(c - b for b, c in zip(step_ms(base), step_ms(commit)))
    rows = []
    for name in names:
        bs, cs = _per_step(base, name, 0), _per_step(commit, name, 0)
        b, c = statistics.median(bs), statistics.median(cs)
        if max(b, c) < MIN_SELF_MS:
            continue
        diffs = [y - x for x, y in zip(bs, cs)]
        bt, ct = statistics.median(_per_step(base, name, 1)), statistics.median(_per_step(commit, name, 1))
        rows.append(Row(name, b, c, statistics.median(diffs), (c - b) / b * 100 if b > 0 else None,
                        (min(diffs), max(diffs)), bt, ct, ct - bt,
                        statistics.median(_per_step(base, name, 2)) / 1e3,
                        statistics.median(_per_step(commit, name, 2)) / 1e3,
                        statistics.median(diffs) / growth * 100 if growth > 0 else None))
    rows.sort(key=lambda r: -r.self_growth_ms)
    return rows[:top]
