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
import math
import os
import statistics
import time
from pathlib import Path
from typing import Callable

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from .formats import shorten

PROGRESS_AFTER_S = 2.0  # a bar only for runs longer than this
HEARTBEAT_S = float(os.environ.get("MDPERF_HEARTBEAT_S", "30"))  # a CI log's line at least this often


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


def seconds_text(seconds: float) -> str:
    """A duration as a log line reads it: seconds under two minutes, else minutes."""
    return f"{seconds:.0f} s" if seconds < 120 or math.isnan(seconds) else f"{seconds / 60:.1f} min"


def step_bar(console: Console, label: str) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """A callback that shows a bar once a run has lasted PROGRESS_AFTER_S, and a function to close it."""
    start = time.monotonic()
    state: dict = {}

    def update(done: int, total: int) -> None:
        if "bar" not in state:
            if time.monotonic() - start < PROGRESS_AFTER_S or done >= total:
                return
            bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} steps"),
                           TimeRemainingColumn(), console=console, transient=True)
            bar.start()
            state["bar"], state["task"] = bar, bar.add_task(label, total=total)
        state["bar"].update(state["task"], completed=done)

    def close() -> None:
        if "bar" in state:
            state["bar"].stop()

    return update, close


class Heartbeat:
    """What `mdperf track` is doing, while it does it: on a terminal a live line (updated every second), in a CI
    log a plain line when a phase starts, when the case being measured changes or is measured again, and then at
    most every HEARTBEAT_S, with the elapsed time, the case (mdperf.progress) or the last line of the phase's log,
    and the time left."""

    def __init__(self, console: Console, live: bool, update: Callable[[str], object]) -> None:
        import threading

        self.console, self.live, self.update = console, live, update
        self.log: Path | None
        self.detail: Callable[[], tuple[str, str]] | None
        self.text, self.log, self.detail, self.since, self.printed = "", None, None, 0.0, 0.0
        self.said = ""
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def phase(self, text: str, log: Path | None, detail: Callable[[], tuple[str, str]] | None = None) -> None:
        with self.lock:
            self.text, self.log, self.detail, self.since, self.said = text, log, detail, time.monotonic(), ""
        if text and not self.live:
            self.console.print(f"{text} ...", highlight=False, markup=False, soft_wrap=True)
            self.printed = time.monotonic()

    def _last_log_line(self) -> str:
        if self.log is None:
            return ""
        try:
            with open(self.log, "rb") as fh:
                fh.seek(max(0, fh.seek(0, 2) - 4096))
                lines = [ln.strip() for ln in fh.read().decode(errors="replace").splitlines() if ln.strip()]
            return shorten(lines[-1], 160) if lines else ""
        except OSError:
            return ""

    def _line(self) -> tuple[str, str]:
        """(the line, what it says that a log reader has not been told yet)."""
        elapsed = time.monotonic() - self.since
        what, left = self.detail() if self.detail is not None else ("", "")
        parts = [self.text, f"{int(elapsed // 60)} min {int(elapsed % 60):02d} s", what or self._last_log_line(), left]
        return " — ".join(p for p in parts if p), what

    def _run(self) -> None:
        while not self.stopped.wait(1.0):
            with self.lock:
                if not self.text:
                    continue
                try:
                    line, what = self._line()
                except Exception:  # the live line is for the person watching: never a reason for track to fail
                    continue
                news = bool(what) and what != self.said
                if news:
                    self.said = what
            if self.live:
                self.update(line)
            elif news or time.monotonic() - self.printed >= HEARTBEAT_S:
                self.console.print(line, highlight=False, markup=False, soft_wrap=True)
                self.printed = time.monotonic()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)


def reason_lines(reason: str, most: int = 200) -> tuple[str, list[str]]:
    """A commit's reason as a log reads it: what happened on the commit's line, then each error and the log's path
    on lines of their own (never one 600-character line)."""
    head, sep, log = reason.rpartition("; log: ")
    if not sep:
        head, log = reason, ""
    head, sep, errors = head.partition("): ")
    head += ")" if sep else ""
    more = [shorten(e.strip(), most) for e in errors.split(" | ") if e.strip()]
    return shorten(head, most), more + ([f"log: {log}"] if log else [])
