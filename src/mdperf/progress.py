"""What a commit being measured is doing, while asv runs it: the suite's progress lines read back, with an
estimate of the time left in the run.

asv says nothing while the suite's ``setup_cache`` measures every case (its log shows ``Setting up
suite.benchmarks:…`` for the whole commit), so the suite appends one JSON line per event to the file named by
``MDPERF_PROGRESS`` (:func:`mdperf.suite.benchmarks._progress`): a case began (``case``, with ``k`` of ``n``),
the guard found the machine busy and the case is measured again (``again``, with why), a case ended (``done``).
An mdperf older than these lines (an old commit of mdperf itself) writes none: then only the time is said.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path


def read(path: Path) -> list[dict]:
    """The events so far; a line cut short by a writer still writing is left for the next read."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    events = []
    for line in text.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


def minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


class CommitProgress:
    """The live detail of commit ``index`` (0-based) of ``total``: which case runs, whether it is being measured
    again, and about how long the run has left (from the commits done so far, else from the cases done)."""

    def __init__(self, path: Path, index: int, total: int, done_walls_s: list[float]) -> None:
        self.path, self.index, self.total = path, index, total
        self.done_walls_s = list(done_walls_s)
        self.start = time.time()

    def commit_estimate_s(self, events: list[dict], now: float) -> float | None:
        """How long this commit will take in all."""
        if self.done_walls_s:
            return statistics.mean(self.done_walls_s)
        starts = [e for e in events if e.get("event") == "case"]
        ends = [e for e in events if e.get("event") == "done"]
        if not starts or not ends or not starts[0].get("n"):
            return None
        per_case = (ends[-1]["t"] - starts[0]["t"]) / len(ends)
        return (starts[0]["t"] - self.start) + per_case * starts[0]["n"]

    def __call__(self) -> tuple[str, str]:
        """(what runs now, the estimate); either may be empty."""
        now = time.time()
        events = read(self.path)
        what = ""
        cases = [e for e in events if e.get("event") == "case"]
        if cases:
            last = cases[-1]
            what = f"case {last.get('k')}/{last.get('n')}: {last.get('case')}"
            since = events[events.index(last) + 1:]
            again = [e for e in since if e.get("event") == "again"]
            if again and not any(e.get("event") == "done" for e in since):
                what += f", measured again: the machine was busy ({again[-1].get('why') or 'the guard said so'})"
            elif since and since[-1].get("event") == "done" and last.get("k") == last.get("n"):
                what = f"all {last.get('n')} cases measured; asv's own step timing and peak memory"
        per_commit = self.commit_estimate_s(events, now)
        if per_commit is None:  # before the first case of the run ends (or an mdperf that writes no progress)
            return what, ""
        left = max(0.0, per_commit - (now - self.start)) + per_commit * (self.total - self.index - 1)
        return what, f"about {minutes(left)} left for {self.total - self.index} commit(s)"
