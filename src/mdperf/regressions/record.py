"""What has been alerted: each confirmed regression is new in the run that first confirms it, and never again.

A small JSON file beside the results (``<results>/../mdperf/reported-regressions.json`` for a tracked
repository): one entry per series, the commits at which a confirmed regression was reported.  A flag whose
commit lies within ``tolerance`` commits of a recorded one in the same series is the same regression (its
place can move by a commit as more commits are measured).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from ..result import atomic_write_text

RECORD_VERSION = 1
FILE_NAME = "reported-regressions.json"


class Record:
    def __init__(self, path: Path | None, entries: dict[str, list[dict[str, Any]]] | None = None,
                 problem: str = "") -> None:
        self.path = path
        self.entries = entries or {}
        self.problem = problem  # why an existing record could not be read (then it starts empty)
        self.added = 0

    @classmethod
    def load(cls, path: str | Path | None) -> "Record":
        if path is None:
            return cls(None)
        path = Path(path)
        if not path.exists():
            return cls(path)
        try:
            data = json.loads(path.read_text())
            entries = data["series"]
            if not isinstance(entries, dict):
                raise ValueError("'series' is not a mapping")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            return cls(path, problem=f"unreadable record of reported regressions {path}: {exc}; starting afresh")
        return cls(path, {str(k): [e for e in v if isinstance(e, dict) and isinstance(e.get("commit"), str)]
                          for k, v in entries.items() if isinstance(v, list)})

    def seen(self, series: str, commit: str, pos: dict[str, int], tolerance: int = 3) -> bool:
        for e in self.entries.get(series, []):
            if e["commit"] == commit:
                return True
            a, b = pos.get(e["commit"]), pos.get(commit)
            if a is not None and b is not None and abs(a - b) <= tolerance:
                return True
        return False

    def mark_fixed(self, series: str, commit: str, fixed_at: str) -> None:
        for e in self.entries.get(series, []):
            if e["commit"] == commit and not e.get("fixed"):
                e["fixed"] = fixed_at
                self.added += 1

    def add(self, series: str, commit: str) -> None:
        self.entries.setdefault(series, []).append({"commit": commit, "reported": time.time()})
        self.added += 1

    def save(self) -> None:
        """Written whole or not at all; nothing to write when nothing was added."""
        if self.path is None or not self.added:
            return
        atomic_write_text(self.path, json.dumps({"version": RECORD_VERSION, "series": self.entries}, indent=1))
