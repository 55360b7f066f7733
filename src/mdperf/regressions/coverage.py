"""How much of each machine's newest run the report judged: points judged of points measured, what was left out
and why (the guard's noisy marks, failures, machine events, benchmark versions, short series), and the guard's
count of busy cases."""

from __future__ import annotations

import datetime
import json

from ..history import History
from . import events
from .model import Coverage


def coverage(history: History, env: events.Environment, left: dict[tuple[str, int], str]) -> list[Coverage]:
    """Per machine, how much of its newest run was judged, and what was left out and why."""
    out = []
    for machine, runs in sorted(history.runs.items()):
        if not runs:
            continue
        r = len(runs) - 1
        commits = set(runs[r].commits)
        measured = judged = 0
        why: dict[str, int] = {}
        for s in history.series:
            if s.machine != machine or GUARD in s.benchmark:
                continue
            event = env.event_at(machine, s.env, r)
            for i, run in enumerate(s.runs):
                if run != r:
                    continue
                measured += 1
                reason = left.get((s.key, i))
                if reason is None and event is not None and event.absorbs and s.key in (event.devs if
                                                                                         event.run == r else
                                                                                         event.back_devs):
                    reason = "absorbed"
                if reason is None:
                    judged += 1
                else:
                    why[reason] = why.get(reason, 0) + 1
        for s in history.series + history.failed_series:
            if s.machine == machine and GUARD not in s.benchmark:
                n = sum(c in commits for c in s.failed_commits)
                measured += n
                if n:
                    why["failed"] = why.get("failed", 0) + n
        out.append(Coverage(machine, _iso(runs[r].start), list(runs[r].commits), measured, judged, why,
                            busy_text(history, machine, commits)))
    return out


def busy_text(history: History, machine: str, commits: set[str] | list[str]) -> str:
    """What the guard saw over the cases measured at ``commits`` on ``machine`` when it marked any noisy: "15 of
    15 cases measured on a busy machine: CPU share 23-49 %, load 7.3"; "" when it marked none."""
    commits = set(commits)

    def points(suffix: str) -> list[float]:
        return [v for s in history.series if s.machine == machine and s.benchmark.endswith(GUARD + suffix)
                for c, v in zip(s.commits, s.values) if c in commits and v == v]

    marks = points("track_noisy")
    n_noisy = sum(v >= 1 for v in marks)
    if not n_noisy:
        return ""
    share, load = points("track_cpu_share_pct"), points("track_load_avg_1m")
    text = f"{n_noisy} of {len(marks)} cases measured on a busy machine"
    span = f"{min(share):.0f}" + (f"-{max(share):.0f}" if share and round(max(share)) != round(min(share)) else "") \
        if share else ""
    extra = ([f"CPU share {span} %"] if share else []) + \
        ([f"load {max(load):.1f}"] if load else [])
    return text + (": " + ", ".join(extra) if extra else "")


GUARD = ".Guard."  # mdperf's suite: the noisy-machine guard's series (mdperf.guard)


def _noisy_points(history: History) -> set[tuple[str, str, str]]:
    """(machine, parameters, commit) of every case the guard marked noisy: those points are left out."""
    out: set[tuple[str, str, str]] = set()
    for s in history.series:
        if s.benchmark.endswith(GUARD + "track_noisy"):
            case = (s.machine, json.dumps(s.params, sort_keys=True))
            out.update(case + (c,) for c, v in zip(s.commits, s.values) if v is not None and v == v and v >= 1)
    return out


def _iso(ms: float | None) -> str | None:
    if ms is None:
        return None
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
