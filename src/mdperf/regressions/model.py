"""The regression report's records: one flag per change found, and the report that holds them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote

from ..history import Problem, Series

REPORT_VERSION = 3


@dataclass
class Flag:
    commit: str
    range_start: str | None  # first commit of the unmeasured range ending at `commit`, else None
    benchmark: str
    params: dict[str, str]
    machine: str
    env: str
    unit: str
    kind: str  # regression | improvement | transient (a run of 1-3 commits that came back)
    state: str  # confirmed | suspected | rejected (re-measured by mdperf confirm: no change)
    change_pct: float
    before: float
    after: float
    z: float
    p_value: float
    new: bool
    graph: str  # link into the asv site, relative to its index.html
    commits_at_level: int = 0  # commits measured at the new level (a transient: how many it lasted)
    date: str | None = None  # the commit's date (UTC), from asv's results
    subject: str = ""  # the commit's subject line, where the repository is known
    position: int = field(default=0, repr=False)  # in the global commit order
    note: str = ""  # why a flag is reported beside a machine event
    # The values around it, and where in them the change, the end of the new level and the start of the old are
    trend: tuple[list[float], int, int, int] | None = field(default=None, repr=False, compare=False)
    series: str = ""  # the series' key (history.Series.key), as the record of alerts names it
    verdict: dict[str, Any] | None = None  # mdperf confirm's re-measurement of it (verdicts.py), if any

    @property
    def params_text(self) -> str:
        return ", ".join(f"{k}={v.strip(chr(39))}" for k, v in self.params.items())

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("position")
        d.pop("trend")
        return d


@dataclass
class BenchmarkChange:
    """Where asv's version of a benchmark (the hash of its code) changed: its series are judged apart there."""

    benchmark: str
    machine: str
    commit: str
    series: int
    date: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Report:
    flags: list[Flag]
    problems: list[Problem]
    n_series: int
    n_commits: int
    ordered_by: str
    since: str | None
    events: list[Any] = field(default_factory=list)  # events.Event: run-wide shifts of one machine, newest first
    benchmark_changes: list[BenchmarkChange] = field(default_factory=list)
    backfilled: int = 0  # commits measured in a batch after newer ones: shown, not judged

    @property
    def new_confirmed_regressions(self) -> list[Flag]:
        return [f for f in self.flags if f.new and f.kind == "regression" and f.state == "confirmed"]

    @property
    def confirmed(self) -> list[Flag]:
        return [f for f in self.flags if f.state == "confirmed"]

    @property
    def suspected(self) -> list[Flag]:
        """Flags to watch: not yet confirmed."""
        return [f for f in self.flags if f.state == "suspected"]

    @property
    def rejected(self) -> list[Flag]:
        """Flags a re-measurement against their base did not reproduce."""
        return [f for f in self.flags if f.state == "rejected"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": REPORT_VERSION,
            "since": self.since,
            "ordered_by": self.ordered_by,
            "series": self.n_series,
            "commits": self.n_commits,
            "backfilled_commits": self.backfilled,
            "new_confirmed_regressions": len(self.new_confirmed_regressions),
            "flags": [f.to_dict() for f in self.flags],
            "environment_events": [e.to_dict() for e in self.events],
            "benchmark_changes": [b.to_dict() for b in self.benchmark_changes],
            "problems": [{"path": p.path, "reason": p.reason} for p in self.problems],
        }


def graph_link(s: Series) -> str:
    """asv's graph URL for a series: ``#benchmark?machine=...&p-name=value``."""
    parts = [f"machine={quote(s.machine)}"] + [f"p-{quote(k)}={quote(v)}" for k, v in s.params.items()]
    return f"#{s.benchmark}?{'&'.join(parts)}"
