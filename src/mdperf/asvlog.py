"""What one asv run of one commit came to, read from asv's result file and log: the commit's own failure (its
build, its imports, its benchmarks' errors) is recorded; the machine's fault (asv killed, results unwritable,
a full disk) never is, so the commit is measured again."""

from __future__ import annotations

import re
import signal
from pathlib import Path

from . import asvresults
from .asvconf import AsvSetup


def classify(setup: AsvSetup, machine_name: str, commit: str, returncode: int, log: Path) -> tuple[str, str, float]:
    """(status, reason, benchmark seconds) from asv's result file for ``commit``.  Status ``failed``: the
    commit's own failure (build, import, benchmark errors), recorded; ``fault``: the machine's (asv killed or
    crashed, results unwritable or cut short by a full disk), never recorded, to be measured again."""
    if returncode < 0 or returncode in (128 + signal.SIGKILL, 128 + signal.SIGTERM):
        return "fault", f"asv was killed (exit {returncode}); log: {log}", 0.0
    files = asvresults.result_paths(setup.results_dir / machine_name, commit)
    if not files:
        missing = _missing_module(log)
        if missing:  # the suite itself could not be imported: mdperf (or a dependency) is not in the environment
            return "failed", f"the benchmark environment is broken: {missing}; log: {log}", 0.0
        if _build_failure(log):
            return "failed", _build_failure(log), 0.0
        return "fault", f"asv wrote no results (exit {returncode}): {_last_error(log)}; log: {log}", 0.0
    failed, total, bench_s = [], 0, 0.0
    for f in files:
        try:
            rf = asvresults.load(f)
        except asvresults.ResultsError as exc:
            return "fault", f"asv left an unreadable result file {f.name} (a full disk?): {exc}", 0.0
        for name, row in rf.rows.items():
            total += 1
            values = row.result
            if values is None or (isinstance(values, list) and values and all(v is None for v in values)):
                failed.append(name)
        bench_s += rf.benchmark_s
    if total and len(failed) == total:
        return "failed", _build_failure(log) or _broken_environment(log) or f"every benchmark failed; log: {log}", bench_s
    if failed:
        why = _errors(log)
        return "partial", f"{len(failed)} of {total} benchmarks errored ({', '.join(sorted(failed)[:3])}" + \
            ("…" if len(failed) > 3 else "") + ")" + (f": {why}" if why else "") + f"; log: {log}", bench_s
    return "ok", "", bench_s


_ERROR_LINE = re.compile(r"^\s*(?:[\w.]+\.)?(\w*(?:Error|Exception)): (.+)$")


def _errors(log: Path, most: int = 2) -> str:
    """The distinct errors the benchmarks raised (their tracebacks' last lines in asv's log), for the reason."""
    seen: dict[str, None] = {}
    for line in _log_text(log).splitlines():
        found = _ERROR_LINE.match(line)
        if found and found.group(1) != "NotImplementedError":
            seen.setdefault(f"{found.group(1)}: {found.group(2).strip()[:240]}", None)
    return " | ".join(list(seen)[:most])


def _log_text(log: Path) -> str:
    try:
        return log.read_text(errors="replace")
    except OSError:
        return ""


# The suite's message for a dependency that fails to import (mdperf.suite.benchmarks, _api_missing), as the asv
# log shows it in each failed benchmark's traceback; and an import that fails before the suite exists.
_BROKEN_ENV = re.compile(r"RuntimeError: ((?:the benchmark environment is broken: |this commit has no ).*)")
_MISSING_MODULE = re.compile(r"(ModuleNotFoundError: No module named '[^']+')")


def own_package_missing(setup: AsvSetup, machine_name: str, commit: str, status: str, log: Path) -> bool:
    """The suite could not even be imported because the measured project's own package is missing (No module named
    '<project>': mdperf measuring itself), which asv had just installed."""
    if status != "failed" or asvresults.result_paths(setup.results_dir / machine_name, commit):
        return False
    found = re.search(r"No module named '([\w.]+)'", _log_text(log))
    return found is not None and found.group(1).split(".")[0] == setup.project.replace("-", "_")


def _broken_environment(log: Path) -> str:
    found = _BROKEN_ENV.search(_log_text(log))
    return f"{found.group(1).strip()}; log: {log}" if found else ""


def _missing_module(log: Path) -> str:
    found = _MISSING_MODULE.search(_log_text(log))
    return found.group(1) if found else ""


def _last_error(log: Path) -> str:
    """The last line of the log that names an error, for the fault's one-line reason."""
    lines = [ln.strip() for ln in _log_text(log).splitlines() if ln.strip()]
    errors = [ln for ln in lines if "Error" in ln or "error" in ln]
    return (errors or lines or ["empty log"])[-1][:300]


def _build_failure(log: Path) -> str:
    text = _log_text(log)
    if "Error running" in text or "Failed to build" in text or "failed to build" in text.lower():
        return f"build failed; log: {log}"
    return ""


