"""The one reader of asv result folders: ``benchmarks.json``, ``<machine>/machine.json`` and the per-commit
result files of asv 0.5/0.6 (format version 2, columns named by ``result_columns``) and of older asv (version
1, converted by asv's own ``Results.update_to_2``).

Every file is read whole or not at all: anything unreadable raises :class:`ResultsError` with the reason, and
the caller decides whether that is a problem to report or a failed commit.
"""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

MACHINE_JSON = "machine.json"
BENCHMARKS_JSON = "benchmarks.json"
# mdperf's record of what the machine was at each run, beside asv's files; asv reads only *.json, so it is skipped.
RUNS_JSONL = "mdperf-runs.jsonl"


_HASH = re.compile(r"[0-9a-fA-F]{4,64}")


class ResultsError(ValueError):
    """A results file that cannot be read; the message says why."""


@dataclass(frozen=True)
class Row:
    """One benchmark's entry in a result file."""

    result: Any  # a value, a list with one value per parameter combination, or None (failed)
    params: list[list[str]]
    version: str | None  # asv's hash of the benchmark's code
    started_at: float | None  # ms since the epoch
    duration: float | None  # s


@dataclass(frozen=True)
class ResultFile:
    path: Path
    commit: str
    env: str
    date: float | None  # the commit's date, ms since the epoch
    rows: dict[str, Row]
    durations: dict[str, float]  # setup_cache and build durations, s

    @property
    def run_at(self) -> float | None:
        """When asv began this file's run (ms since the epoch): its earliest ``started_at``; None if unrecorded."""
        times = [float(r.started_at) for r in self.rows.values()
                 if isinstance(r.started_at, (int, float)) and r.started_at > 0]
        return min(times) if times else None

    @property
    def benchmark_s(self) -> float:
        """Seconds asv spent inside the benchmarks and their setup_cache."""
        total = sum(float(r.duration) for r in self.rows.values() if isinstance(r.duration, (int, float)))
        return total + sum(float(v) for v in self.durations.values() if isinstance(v, (int, float)))


def _column(row: list[Any], columns: list[str], name: str) -> Any:
    i = columns.index(name) if name in columns else None
    return row[i] if i is not None and i < len(row) else None


def _v2(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """``data`` in format version 2, older files converted by asv."""
    version = data.get("version")
    if version == 2:
        return data
    if version not in (1, None):
        raise ResultsError(f"unknown result format version {version!r}")
    from asv.results import Results

    old = {"date": None, "params": {}, "python": "", "requirements": {}, "env_name": path.stem.split("-", 1)[-1],
           **data}
    try:
        return Results.update_to_2(old)
    except Exception as exc:  # asv raises its own UserError for a malformed old file
        raise ResultsError(f"{type(exc).__name__}: {exc}") from None


def load(path: str | Path) -> ResultFile:
    """One per-commit result file; anything unreadable raises :class:`ResultsError`."""
    path = Path(path)
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # a FIFO or device named *.json would block or never end
            raise ResultsError("not a regular file")
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise ResultsError(f"{type(exc).__name__}: {exc}") from None
    except RecursionError:  # JSON nested thousands deep: crafted, never asv's
        raise ResultsError("nested too deep to be an asv result") from None
    if not isinstance(data, dict):
        raise ResultsError(f"not a results object but {type(data).__name__}")
    data = _v2(data, path)
    commit = data.get("commit_hash")
    if not isinstance(commit, str) or not _HASH.fullmatch(commit):  # it reaches HTML, Markdown and git
        raise ResultsError(f"commit_hash is {str(commit)[:80]!r}, not a hexadecimal commit hash")
    results, columns = data.get("results"), data.get("result_columns")
    if not isinstance(results, dict):
        raise ResultsError("no 'results' mapping")
    if not isinstance(columns, list) or "result" not in columns:
        raise ResultsError("version 2 file without result_columns")
    rows = {}
    for name, row in results.items():
        if not isinstance(row, list):
            raise ResultsError(f"{name}: a row is {type(row).__name__}, not a list")
        rows[name] = Row(_column(row, columns, "result"), _column(row, columns, "params") or [],
                         _column(row, columns, "version"), _column(row, columns, "started_at"),
                         _column(row, columns, "duration"))
    date = data.get("date")
    env = data.get("env_name") or path.stem.split("-", 1)[-1]
    durations: dict[str, float] = data["durations"] if isinstance(data.get("durations"), dict) else {}
    return ResultFile(path, commit, str(env), float(date) if isinstance(date, (int, float)) else None, rows,
                      durations)


def machine_dirs(root: str | Path) -> list[Path]:
    return sorted(d for d in Path(root).iterdir() if d.is_dir())


def readable(path: Path) -> bool:
    """A regular file (never a FIFO, socket or device, which could block a reader)."""
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


def result_paths(machine_dir: str | Path, commit: str | None = None) -> list[Path]:
    """A machine folder's result files (all, or those named for ``commit``), sorted."""
    d = Path(machine_dir)
    if not d.is_dir():
        return []
    pattern = f"{commit[:8]}-*.json" if commit else "*.json"
    try:
        return sorted(f for f in d.glob(pattern) if f.name != MACHINE_JSON)
    except OSError:  # an unreadable folder: no files (the caller reports the machine as a problem)
        return []


def load_machine(machine_dir: str | Path) -> dict[str, Any] | None:
    """The machine's ``machine.json``; None when there is none, ResultsError when it cannot be read."""
    f = Path(machine_dir) / MACHINE_JSON
    if not f.exists():
        return None
    if not readable(f):
        raise ResultsError("machine.json is not a regular file")
    try:
        data = json.loads(f.read_bytes().decode("utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise ResultsError(f"unreadable machine.json: {type(exc).__name__}") from None
    if not isinstance(data, dict):
        raise ResultsError(f"machine.json holds {type(data).__name__}, not an object")
    return data


def load_benchmarks(root: str | Path) -> dict[str, dict[str, Any]] | None:
    """Benchmark name -> its entry of ``benchmarks.json`` (None when there is no such file)."""
    f = Path(root) / BENCHMARKS_JSON
    if not f.exists():
        return None
    if not readable(f):
        raise ResultsError("benchmarks.json is not a regular file")
    try:
        data = json.loads(f.read_bytes().decode("utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise ResultsError(f"unreadable benchmarks.json: {type(exc).__name__}") from None
    return {k: v for k, v in data.items() if isinstance(v, dict)} if isinstance(data, dict) else {}


def machine_lines(results_dir: str | Path, file_name: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(machine, object) for each JSON-object line of every machine's ``file_name`` (mdperf's ``.jsonl`` files
    beside asv's results, which asv does not read), machines in name order; unreadable files and lines are left
    out."""
    for f in sorted(Path(results_dir).glob(f"*/{file_name}")):
        try:
            lines = f.read_bytes().decode("utf-8", errors="replace").splitlines()
        except OSError:
            continue
        for line in lines:
            try:
                d = json.loads(line)
            except (ValueError, RecursionError):
                continue
            if isinstance(d, dict):
                yield f.parent.name, d


def load_runs(machine_dir: str | Path) -> tuple[dict[tuple[str, str], dict[str, str]], list[str]]:
    """The machine facts mdperf recorded per run: (commit, env) -> facts, and a reason per unreadable line."""
    f = Path(machine_dir) / RUNS_JSONL
    facts: dict[tuple[str, str], dict[str, str]] = {}
    problems: list[str] = []
    if not f.exists():
        return facts, problems
    if not readable(f):
        return facts, ["not a regular file"]
    try:
        lines = f.read_bytes().decode("utf-8", errors="replace").splitlines()
    except OSError as exc:
        return facts, [f"unreadable: {exc}"]
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            facts[(str(d["commit"]), str(d["env"]))] = {str(k): str(v) for k, v in dict(d["facts"]).items()}
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            problems.append(f"line {i}: {type(exc).__name__}: {exc}")
    return facts, problems


def append_runs(machine_dir: str | Path, entries: list[dict[str, Any]]) -> None:
    """Add runs' facts (dicts of commit, env, started_at, facts) to the machine's record, whole or not at all."""
    f = Path(machine_dir) / RUNS_JSONL
    old = f.read_text() if f.exists() else ""
    if old and not old.endswith("\n"):
        old += "\n"
    tmp = f.with_name(f.name + ".tmp")
    tmp.write_text(old + "".join(json.dumps(e, sort_keys=True) + "\n" for e in entries))
    tmp.replace(f)


def readable_view(root: str | Path, dest: str | Path) -> list[str]:
    """``dest``: a results folder holding only what this module reads (the result files, ``machine.json`` and
    ``benchmarks.json``), for asv publish, which crashes on a file pulled from another runner that is not UTF-8;
    the files left out, "path: why"."""
    import shutil

    root, dest = Path(root), Path(dest)
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    left_out: list[str] = []

    def put(f: Path, rel: Path) -> None:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(f, dest / rel)
        except OSError:  # another file system
            shutil.copyfile(f, dest / rel)

    try:
        load_benchmarks(root)
        if (root / BENCHMARKS_JSON).exists():
            put(root / BENCHMARKS_JSON, Path(BENCHMARKS_JSON))
    except ResultsError as exc:
        left_out.append(f"{BENCHMARKS_JSON}: {exc}")
    for mdir in machine_dirs(root):
        try:
            if load_machine(mdir) is None:
                continue  # not a machine's folder
        except ResultsError as exc:
            left_out.append(f"{mdir.name}/{MACHINE_JSON}: {exc}")
            continue
        put(mdir / MACHINE_JSON, Path(mdir.name) / MACHINE_JSON)
        for f in result_paths(mdir):
            try:
                load(f)
            except ResultsError as exc:
                left_out.append(f"{mdir.name}/{f.name}: {exc}")
                continue
            put(f, Path(mdir.name) / f.name)
    return left_out
