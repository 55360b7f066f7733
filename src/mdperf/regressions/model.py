"""The regression report's records: one flag per change found, and the report that holds them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote

from ..history import Problem, Series

REPORT_VERSION = 2


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
    state: str  # confirmed | suspected
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

    @property
    def params_text(self) -> str:
        return ", ".join(f"{k}={v.strip(chr(39))}" for k, v in self.params.items())

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("position")
        return d


@dataclass
class Report:
    flags: list[Flag]
    problems: list[Problem]
    n_series: int
    n_commits: int
    ordered_by: str
    since: str | None

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

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": REPORT_VERSION,
            "since": self.since,
            "ordered_by": self.ordered_by,
            "series": self.n_series,
            "commits": self.n_commits,
            "new_confirmed_regressions": len(self.new_confirmed_regressions),
            "flags": [f.to_dict() for f in self.flags],
            "problems": [{"path": p.path, "reason": p.reason} for p in self.problems],
        }


def graph_link(s: Series) -> str:
    """asv's graph URL for a series: ``#benchmark?machine=...&p-name=value``."""
    parts = [f"machine={quote(s.machine)}"] + [f"p-{quote(k)}={quote(v)}" for k, v in s.params.items()]
    return f"#{s.benchmark}?{'&'.join(parts)}"
