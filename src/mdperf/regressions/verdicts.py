"""Verdicts of ``mdperf confirm``: a flagged change re-measured against its base, interleaved, on the machine
that flagged it.

One JSON line per verdict in ``<results>/<machine>/mdperf-confirm.jsonl`` (beside asv's result files, so it
travels with the machine's folder on the results branch; ``.jsonl`` is not read by asv).  A verdict names the
flag (benchmark, parameters, commit); the report applies the newest verdict of each: ``confirmed`` makes a
suspected change confirmed (alerted the night it lands), ``rejected`` takes a flag out of the alerts (its state
reads ``rejected``), ``inconclusive`` leaves the flag as the history has it (to watch, never silenced) with the
re-measurement's interval and why it could not decide.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .. import asvresults

FILE_NAME = "mdperf-confirm.jsonl"


def key(machine: str, benchmark: str, params: dict[str, str], commit: str) -> tuple[str, str, str, str]:
    return machine, benchmark, json.dumps(params, sort_keys=True), commit


def load(results_dir: Path) -> dict[tuple[str, str, str, str], dict[str, Any]]:
    """Every machine's verdicts, the newest for each flag; unreadable lines are skipped."""
    out: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    if not results_dir.is_dir():
        return out
    for machine, v in asvresults.machine_lines(results_dir, FILE_NAME):
        try:
            k = key(machine, str(v["benchmark"]), dict(v["params"]), str(v["commit"]))
        except (KeyError, TypeError, ValueError):
            continue
        if v.get("verdict") in ("confirmed", "rejected", "inconclusive"):
            out[k] = v
    return out


def append(results_dir: Path, machine: str, verdicts: list[dict[str, Any]]) -> Path:
    """Add verdicts to the machine's file: whole lines, one write (a reader never sees half a line)."""
    path = results_dir / machine / FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        f.write("".join(json.dumps(v, sort_keys=True) + "\n" for v in verdicts))
    return path
