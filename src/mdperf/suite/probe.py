"""A one-step probe of each configured case at ``mdperf init``, so that a case too slow for a nightly is said
before the first night, not found after it: the calculator built once per size, three steps timed, and the
time one commit's measurement will take estimated from them.

Run in a child process, as the contract check is (:mod:`.validate`), with the repository's working tree first
on the path: ``python -m mdperf.suite.probe PYPROJECT PROFILE`` prints one JSON list of estimates.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .config import load

SLOW_CASE_S = 60.0  # a case estimated above this per commit is said at init
PROBE_STEPS = 3


def estimates(pyproject: str | Path, profile: str | None) -> list[dict]:
    """Per case of the profile: {"case", "s_per_commit"} or {"case", "error"}."""
    from .. import calculators
    from ..measurement import describe_case, prepare
    from .config import suite_dir

    cfg = load(pyproject, profile)
    calculators.add_search_path(suite_dir(pyproject))
    out: list[dict[str, Any]] = []
    names = dict.fromkeys([*cfg.calculators, *([cfg.reference] if cfg.reference else [])])
    for name in names:
        for atoms in cfg.atoms:
            for device in cfg.devices:
                label = f"{cfg.label(name)} at {atoms} atoms on {device}"
                if cfg.skip_reason(name, atoms, device):
                    continue
                if device == "cuda" and not calculators.cuda_available():
                    continue
                try:
                    case = describe_case(name, cfg.system, atoms, cfg.steps, device=device, warmup=cfg.warmup,
                                         protocol=cfg.protocol, dtype=cfg.dtype,
                                         calc_options=cfg.options.get(name) or None)
                    t0 = time.perf_counter()
                    prepared = prepare(case)
                    cold_s = time.perf_counter() - t0
                    t1 = time.perf_counter()
                    prepared.step(PROBE_STEPS)
                    step_s = (time.perf_counter() - t1) / PROBE_STEPS
                except Exception as exc:  # what the probe cannot run, the benchmark environment will say
                    out.append({"case": label, "error": f"{type(exc).__name__}: {exc}"})
                    continue
                # the suite's track measurement (warm-up and timed steps) and asv's own step and peak-memory
                # benchmarks (a few steps each), each process building the calculator once
                steps = cfg.warmup + cfg.steps + 20
                out.append({"case": label, "step_s": step_s, "cold_s": cold_s,
                            "s_per_commit": 3 * cold_s + steps * step_s})
    return out


def in_child(repo: Path, pyproject: Path, profile: str, timeout_s: float = 300) -> list[dict]:
    from .. import children

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(repo / "src"), str(repo), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    try:
        p = children.capture([sys.executable, "-m", "mdperf.suite.probe", str(pyproject), profile], env=env,
                             cwd=repo, timeout_s=timeout_s)
    except subprocess.TimeoutExpired:
        return [{"case": "every case", "error": f"the probe took over {timeout_s:.0f} s"}]
    try:
        return list(json.loads(p.stdout.strip().splitlines()[-1]))
    except (ValueError, IndexError):
        last = (p.stderr.strip().splitlines() or ["no output"])[-1]
        return [{"case": "every case", "error": f"the probe could not run (exit {p.returncode}): {last}"}]


if __name__ == "__main__":
    from ..errors import UserError

    try:
        print(json.dumps(estimates(sys.argv[1], sys.argv[2])))
    except UserError as exc:
        print(json.dumps([{"case": "every case", "error": str(exc)}]))
