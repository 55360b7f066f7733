"""The regression report's records: one flag per change found, and the report that holds them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote

from ..history import History, Problem, Series, params_text

REPORT_VERSION = 5
RUN_WIDE = "<run-wide>"  # the benchmark name under which mdperf confirm records its verdict on a run-wide shift


@dataclass(kw_only=True)
class Flag:
    """One change of one series at one commit.  Built by :meth:`Flag.at` (which names the series' fields and the
    unmeasured range before the commit) everywhere a flag is made."""

    commit: str
    range_start: str | None  # first commit of the unmeasured range ending at `commit`, else None
    benchmark: str
    params: dict[str, str]
    machine: str
    env: str
    unit: str
    kind: str  # regression | improvement | transient (a run of 1-3 commits that came back)
    # What the report decides: the re-measurement's verdict where it decided (confirmed | rejected), else what the
    # history shows (`detected`). The two sources are kept apart in `detected` and `remeasured`.
    state: str  # confirmed | suspected | rejected
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
    # The history's own reading: confirmed (the new level outlasted a transient) | suspected; "" when only a
    # re-measurement found it
    detected: str = ""
    remeasured: str = ""  # the re-measurement's verdict: confirmed | rejected | inconclusive; "" when none
    # "undecided": it moved with most series of its run and nothing has yet said whether the code or the machine
    # did it (reported with the run-wide change, once per commit); "code": re-measured, the code's; "" otherwise
    run_wide: str = ""
    noisy_points: list[bool] | None = field(default=None, repr=False, compare=False)  # per trend point: guard's mark

    @classmethod
    def at(cls, s: Series, commit: str, prev: str | None, history: History, pos: dict[str, int],
           **fields: Any) -> Flag:
        """The flag of series ``s`` at ``commit`` (measured after ``prev``, its previous point): the series'
        identity, its graph link, the commit's place in ``history`` and the first commit of the unmeasured range
        between the two, with the change's own ``fields`` (kind, state, change_pct, before, after, ...)."""
        fields.setdefault("z", float("nan"))
        fields.setdefault("p_value", float("nan"))
        return cls(commit=commit, range_start=history.range_start(prev, commit, pos), benchmark=s.benchmark,
                   params=s.params, machine=s.machine, env=s.env, unit=s.unit, graph=graph_link(s), series=s.key,
                   position=pos.get(commit, 0), **fields)

    @property
    def params_text(self) -> str:
        return params_text(self.params)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("position")
        d.pop("trend")
        d.pop("noisy_points")
        return d


@dataclass
class RunWideChange:
    """A shift shared by most series of one run with no recorded change of the machine, not yet decided by a
    re-measurement: reported once for its commit, with the series it moved (their flags carry ``run_wide``)."""

    machine: str
    env: str
    commit: str
    range_start: str | None
    shift_pct: float  # the median series' change in that run
    moved: int  # series that moved with it
    series: int  # series measured in the run
    flags: list[Flag] = field(default_factory=list, repr=False)  # the per-series changes it holds
    date: str | None = None
    subject: str = ""

    @property
    def kind(self) -> str:
        worse = sum(f.kind == "regression" for f in self.flags)
        return "regression" if worse >= len(self.flags) - worse else "improvement"

    @property
    def lasting(self) -> bool:
        """Outlasted a transient: some series it moved is a confirmed change (it counts for the exit code)."""
        return any(f.state == "confirmed" for f in self.flags)

    @property
    def new(self) -> bool:
        return any(f.new for f in self.flags)

    @property
    def command(self) -> str:
        return f"mdperf confirm {self.commit[:10]} --machine {self.machine}"

    def to_dict(self) -> dict[str, Any]:
        return {"machine": self.machine, "env": self.env or None, "commit": self.commit,
                "range_start": self.range_start, "date": self.date, "subject": self.subject,
                "shift_pct": self.shift_pct, "moved": self.moved, "series_in_run": self.series,
                "kind": self.kind, "lasting": self.lasting, "new": self.new, "decide_with": self.command,
                "series": [f.series for f in self.flags]}


LEFT_OUT = {  # why a point of the newest run was not judged, as the report says it
    "noisy": "measured on a busy machine (the guard marked the case noisy)",
    "failed": "failed",
    "absorbed": "absorbed by a machine event",
    "version": "cut by a benchmark version (too few points since asv's version of it changed)",
    "short": "too short a series to judge",
    "backfill": "measured in a backfill",
    "analysis": "analysis failed",
}
BLIND_SHARE = 0.5  # fewer than this share of the newest run's points judged: the report could not judge


@dataclass
class Coverage:
    """How much of a machine's newest run was judged: points (series x commit) judged of points measured, and
    what was left out and why."""

    machine: str
    started: str | None
    commits: list[str]
    measured: int  # points of the newest run with a value, plus those that failed
    judged: int
    left_out: dict[str, int] = field(default_factory=dict)  # reason (LEFT_OUT's keys) -> points
    busy: str = ""  # the guard's figures over the run's cases, when any was marked noisy

    @property
    def blind(self) -> bool:
        return self.measured > 0 and self.judged < BLIND_SHARE * self.measured

    def text(self) -> str:
        why = "; ".join(f"{n} {LEFT_OUT.get(k, k)}" for k, n in sorted(self.left_out.items(), key=lambda kv: -kv[1])
                        if n)
        return (f"{self.machine}: {self.judged} of {self.measured} points of the newest run judged"
                + (f" ({why})" if why else "") + (f"; {self.busy}" if self.busy else ""))

    def to_dict(self) -> dict[str, Any]:
        return {"machine": self.machine, "started": self.started, "commits": self.commits,
                "measured_points": self.measured, "judged_points": self.judged, "left_out": dict(self.left_out),
                "blind": self.blind, "busy": self.busy or None}


@dataclass
class BenchmarkChange:
    """Where asv's version of a benchmark (the hash of its code) changed: its series are judged apart there."""

    benchmark: str
    machine: str
    commit: str
    series: int
    date: str | None = None
    # asv's versions before and after where they are names, e.g. mdperf's suite "mdperf-suite-2+threads1" ->
    # "mdperf-suite-2+threads2" (another CPU thread count); "" where they are hashes of the code
    versions: str = ""

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
    run_wide: list[RunWideChange] = field(default_factory=list)  # undecided run-wide shifts, newest first
    coverage: list[Coverage] = field(default_factory=list)  # per machine: how much of its newest run was judged
    # per machine, the named benchmark versions of its newest points (mdperf's suite: "mdperf-suite-2+threads1",
    # which says the CPU thread count every case ran with); asv's hashes of the code left out
    suite_versions: dict[str, list[str]] = field(default_factory=dict)
    # The record of alerts this report was judged against (regressions.record.Record), as loaded and updated:
    # what `--issues` marks fixed and saves, without reading the file again. None without a record.
    record: Any = field(default=None, repr=False, compare=False)

    @property
    def blind(self) -> list[Coverage]:
        """The machines whose newest run could mostly not be judged."""
        return [c for c in self.coverage if c.blind]

    @property
    def new_confirmed_regressions(self) -> list[Flag]:
        return [f for f in self.flags if f.new and f.kind == "regression" and f.state == "confirmed"]

    @property
    def confirmed(self) -> list[Flag]:
        return [f for f in self.flags if f.state == "confirmed" and f.run_wide != "undecided"]

    @property
    def suspected(self) -> list[Flag]:
        """Flags to watch: not yet confirmed."""
        return [f for f in self.flags if f.state == "suspected" and f.run_wide != "undecided"]

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
            "blind": [c.machine for c in self.blind],
            "coverage": [c.to_dict() for c in self.coverage],
            "run_wide_changes": [r.to_dict() for r in self.run_wide],
            "flags": [f.to_dict() for f in self.flags],
            "environment_events": [e.to_dict() for e in self.events],
            "benchmark_changes": [b.to_dict() for b in self.benchmark_changes],
            "suite_versions": self.suite_versions,
            "problems": [{"path": p.path, "reason": p.reason} for p in self.problems],
        }


def graph_link(s: Series) -> str:
    """asv's graph URL for a series: ``#benchmark?machine=...&p-name=value``."""
    parts = [f"machine={quote(s.machine)}"] + [f"p-{quote(k)}={quote(v)}" for k, v in s.params.items()]
    return f"#{s.benchmark}?{'&'.join(parts)}"
