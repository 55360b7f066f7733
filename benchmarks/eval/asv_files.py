"""Histories written as asv result folders (format version 2, as asv 0.6 ``asv run`` writes them): the
input of the regression pipeline in tests and in benchmarks/scripts/regressions_perf.py."""

from __future__ import annotations

import json
from pathlib import Path

ENV = "virtualenv-py3.11-torch2.13.0"  # an environment name as asv makes them
COLUMNS = ["result", "params", "version", "started_at", "duration", "stats_ci_99_a", "stats_ci_99_b",
           "stats_q_25", "stats_q_75", "stats_number", "stats_repeat", "samples", "profile"]


def write_asv_results(root, machine, commits, benchmarks, dates=None, env=ENV, machine_info=None,
                      started_at=None) -> None:
    """``benchmarks``: name -> dict(params=[[...]], param_names=[...], unit=..., values=[per-commit list of
    per-combination values (None failed, nan skipped)], optional versions=[per-commit benchmark version]).
    ``started_at``: per commit, when its run began (ms since the epoch); absent, asv's 0 (no run time)."""
    root = Path(root)
    (root / machine).mkdir(parents=True, exist_ok=True)
    meta = {"version": 2}
    if (root / "benchmarks.json").exists():
        meta = json.loads((root / "benchmarks.json").read_text())
    for name, b in benchmarks.items():
        meta[name] = {"name": name, "params": b["params"], "param_names": b["param_names"], "unit": b["unit"],
                      "type": "track" if ".track_" in name else "time", "version": "1"}
    (root / "benchmarks.json").write_text(json.dumps(meta))
    (root / machine / "machine.json").write_text(json.dumps(
        {"machine": machine, "os": "Linux", "arch": "x86_64", "cpu": "test", "num_cpu": "2", "ram": "24GB",
         "version": 1, **(machine_info or {})}))
    for i, commit in enumerate(commits):
        results = {}
        for name, b in benchmarks.items():
            vals = b["values"][i]
            if vals is Ellipsis:  # benchmark absent at this commit
                continue
            version = b["versions"][i] if "versions" in b else "1"
            started = started_at[i] if started_at else 0
            results[name] = [vals, b["params"], version, started, 1.0] + [None] * (len(COLUMNS) - 5)
        data = {"commit_hash": commit, "env_name": env, "date": (dates[i] if dates else 1_700_000_000_000 + i * 1000),
                "params": {"python": "3.11", "machine": machine}, "python": "3.11", "requirements": {},
                "env_vars": {}, "result_columns": COLUMNS, "results": results, "durations": {}, "version": 2}
        (root / machine / f"{commit[:8]}-{env}.json").write_text(json.dumps(data, allow_nan=True))
