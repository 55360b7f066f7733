"""Profiling a commit against its base: one case, each commit built once into a folder of its own
(:class:`mdperf.confirm.Sitting`), profiled rounds in turns (base, commit, commit, base, …) in fresh processes,
then ranked (:mod:`.rank`) and kept beside the machine's results: ``<results>/<machine>/mdperf-profiles/``
(a folder without asv's ``machine.json``, so asv does not read it; it travels with the results branch)."""

from __future__ import annotations

import json
import os
import re
import statistics
import time
from pathlib import Path
from typing import Any, Callable

from ..asvconf import AsvSetup
from ..errors import UserError
from ..suite.config import case_args
from .child import profile_once
from .rank import TOP, rank, step_ms

PROFILE_DIR = "mdperf-profiles"
ROUNDS = 5  # a side; at least MIN_ROUNDS even past the budget
MIN_ROUNDS = 3
BUDGET_S = 300.0  # per profile (per confirmed regression in the nightly): no round starts past it
MAX_STEPS = 200  # profiled steps a round (fewer when the profile has fewer); the warm-up at most MAX_WARMUP
MAX_WARMUP = 10
KEEP = 20  # profiles kept per machine, the newest
KEEP_TRACES = 5  # of which the newest keep their traces (each about a MB): the results branch stays small


def is_time(metric: str | None) -> bool:
    """Whether a metric is one a time profile explains (a step's latency, a rate)."""
    return metric is not None and (metric.startswith("latency_") or metric in ("steps_per_s", "ns_per_day"))


def parse_case(text: str, profile: dict[str, Any]) -> tuple[str, int, str]:
    """``calculator:atoms[:device]`` (the calculator as the suite labels it); UserError when it is not a case of
    the profile."""
    label, sep, rest = text.rpartition(":") if text.count(":") >= 1 else ("", "", text)
    device = "cpu"
    if sep and not rest.isdigit():  # calculator:atoms:device
        device = rest
        label, _, rest = label.rpartition(":")
    if not label or not rest.isdigit():
        raise UserError(f"--case must be CALCULATOR:ATOMS[:DEVICE], got {text!r}")
    if label not in profile["calculator"]:
        raise UserError(f"--case: {label!r} is not a calculator of the suite (one of: {', '.join(profile['calculator'])})")
    if device not in profile["device"]:
        raise UserError(f"--case: device {device!r} is not one of the suite's ({', '.join(profile['device'])})")
    return label, int(rest), device


def default_case(profile: dict[str, Any]) -> tuple[str, int, str]:
    """The representative case: the suite's first calculator at its largest size, on its first device."""
    return profile["calculator"][0], max(profile["atoms"]), profile["device"][0]


def _slug(case: tuple[str, int, str]) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{case[0]}-{case[1]}-{case[2]}")


def profile_commit(setup: AsvSetup, machine: str, commit: str, base: str, case: tuple[str, int, str],
                   profile: dict[str, Any], rounds: int = ROUNDS, budget_s: float = BUDGET_S,
                   on_progress: Callable[[str], None] = lambda text: None) -> dict[str, Any]:
    """The profile of ``commit`` against ``base`` on ``case`` (a suite label, atoms, device), saved; its record."""
    from ..confirm.measure import Sitting, SittingFailed

    if rounds < MIN_ROUNDS:
        raise UserError(f"--rounds must be >= {MIN_ROUNDS} for a spread to be read, got {rounds}")
    steps = min(profile["steps"], MAX_STEPS)
    args = case_args(profile, case[0], case[1], case[2], steps=steps, warmup=min(profile["warmup"], MAX_WARMUP))
    out_dir = setup.results_dir / machine / PROFILE_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{commit[:12]}-{_slug(case)}"
    traces = {"base": f"{stem}-base.trace.json.gz", "commit": f"{stem}-commit.trace.json.gz"}
    got: dict[str, list[dict[str, Any]]] = {base: [], commit: []}
    started = time.monotonic()
    with Sitting(setup, case, profile, on_progress, who="mdperf profile") as sit:
        for c in (base, commit):
            try:
                sit.site(c)
            except UserError as exc:
                raise SittingFailed(c, str(exc)) from None
        build_s = time.monotonic() - started
        for r in range(rounds):
            if r >= MIN_ROUNDS and time.monotonic() - started > budget_s:
                on_progress(f"profile: {r} rounds a side within the budget of {budget_s:.0f} s; stopping there")
                break
            for c in ((base, commit) if r % 2 == 0 else (commit, base)):
                side = "base" if c == base else "commit"
                on_progress(f"profiling {case[0]} at {case[1]} atoms on {case[2]}: round {r + 1}/{rounds}, {side} "
                            f"{c[:8]}")
                trace = out_dir / traces[side] if r == 0 else None
                got[c].append(profile_once(sit.python, sit.sites[c], args, trace))
    rows = rank(got[base], got[commit], TOP)
    b_ms, c_ms = step_ms(got[base]), step_ms(got[commit])
    record = {"commit": commit, "base": base, "machine": machine,
              "case": {"calculator": case[0], "atoms": case[1], "device": case[2]},
              "kind": got[commit][0]["kind"], "rounds": len(got[commit]), "steps_per_round": args["steps"] + args["warmup"],
              "base_step_ms": b_ms, "commit_step_ms": c_ms,
              "step_growth_pct": (statistics.median(c_ms) / statistics.median(b_ms) - 1) * 100,
              "base_latency_p50_ms": [g["latency_p50_ms"] for g in got[base]],
              "commit_latency_p50_ms": [g["latency_p50_ms"] for g in got[commit]],
              "rows": [r.to_dict() for r in rows], "traces": {k: f"{PROFILE_DIR}/{v}" for k, v in traces.items()},
              "file": f"{PROFILE_DIR}/{stem}.json", "at": time.time(), "build_s": build_s,
              "elapsed_s": time.monotonic() - started}
    _write(out_dir / f"{stem}.json", record)
    _prune(out_dir)
    return record


def _write(path: Path, record: dict[str, Any]) -> None:
    """Written whole or not at all: a reader never sees half a profile."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record, indent=1))
    tmp.replace(path)


def _prune(out_dir: Path) -> None:
    """The newest KEEP profiles kept, the newest KEEP_TRACES with their traces."""
    records = sorted((p for p in out_dir.glob("*.json")), key=lambda p: p.stat().st_mtime, reverse=True)
    for i, rec in enumerate(records):
        stem = rec.name[:-len(".json")]
        if i >= KEEP_TRACES:
            for f in out_dir.glob(f"{stem}-*.trace.json.gz"):
                f.unlink(missing_ok=True)
        if i >= KEEP:
            rec.unlink(missing_ok=True)


def load(results_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Every machine's saved profiles, by commit (newest first); an unreadable file is left out."""
    out: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(results_dir.glob(f"*/{PROFILE_DIR}/*.json")):
        try:
            rec = json.loads(path.read_text())
            out.setdefault(rec["commit"], []).append(rec)
        except (OSError, ValueError, KeyError, TypeError):
            continue
    for recs in out.values():
        recs.sort(key=lambda r: -r.get("at", 0))
    return out
