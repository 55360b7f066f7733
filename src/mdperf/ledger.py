"""The ledger of `mdperf track`: each commit's outcome and timings, per machine
(``<results_dir>/../mdperf/track-<machine>.json``); a commit is marked running before its run, so an interrupted
run resumes with it."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .result import atomic_write_text


@dataclass
class CommitOutcome:
    commit: str
    status: str  # "ok" | "partial" (some benchmarks measured, some errored) | "failed"
    reason: str = ""
    wall_s: float = 0.0
    benchmark_s: float = 0.0  # time asv reports inside benchmarks (setup_cache included)
    date: float = field(default_factory=time.time)

    @property
    def overhead_s(self) -> float:
        """Build, install and asv's own start-up: the commit's wall time outside the benchmarks."""
        return max(0.0, self.wall_s - self.benchmark_s)


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, dict[str, Any]] = {}
        if path.exists():
            try:
                data = json.loads(path.read_text())
                entries = data.get("commits", {}) if isinstance(data, dict) else {}
                self.entries = {c: e for c, e in entries.items() if isinstance(e, dict)} \
                    if isinstance(entries, dict) else {}
            except (OSError, ValueError):
                self.entries = {}  # a damaged ledger only costs re-measuring

    def mark_running(self, commit: str) -> None:
        """Written before a commit's run: an interrupted run leaves it 'running', so the next one redoes it."""
        self.entries[commit] = {"status": "running", "date": time.time()}
        self._save()

    def finished(self) -> set[str]:
        return {c for c, e in self.entries.items() if e.get("status") in ("ok", "partial", "failed")}

    def failed(self) -> set[str]:
        """Failed and partial commits (--retry-failed measures both again)."""
        return {c for c, e in self.entries.items() if e.get("status") in ("partial", "failed")}

    def forget(self, commit: str) -> None:
        """An environment fault: the commit stays unmeasured, to be measured by the next run."""
        self.entries.pop(commit, None)
        self._save()

    def running(self) -> set[str]:
        return {c for c, e in self.entries.items() if e.get("status") == "running"}

    def _save(self) -> None:
        atomic_write_text(self.path, json.dumps({"version": 1, "commits": self.entries}, indent=1))

    def record(self, outcome: CommitOutcome) -> None:
        self.entries[outcome.commit] = {
            "status": outcome.status, "reason": outcome.reason, "wall_s": outcome.wall_s,
            "benchmark_s": outcome.benchmark_s, "overhead_s": outcome.overhead_s, "date": outcome.date,
        }
        self._save()


