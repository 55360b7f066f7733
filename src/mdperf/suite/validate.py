"""Every configured calculator checked once against the calculator contract before a track measures anything,
so that a broken factory fails in seconds, not after an hour of commits: first in mdperf's own interpreter
(before the benchmark environment is even created), then in each benchmark environment (its packages, the
repository's working tree first on the path), which also catches a dependency the environment lacks.

Run in a child process with the tracked repository (and its ``src/``) first on the path, so that its package is
the working tree's: ``python -m mdperf.suite.validate PYPROJECT PROFILE`` prints one JSON list of problems.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .config import load

VALIDATION_ATOMS = 32  # small: the contract's finite-difference check evaluates it many times


def problems(pyproject: str | Path, profile: str | None) -> list[str]:
    from .. import calculators, systems
    from ..calculators.interface import validate_calculator
    from ..errors import Unsupported, UserError

    cfg = load(pyproject, profile)
    found = []
    for name in dict.fromkeys([*cfg.calculators, *([cfg.reference] if cfg.reference else [])]):
        try:
            entry = calculators.resolve(name)
        except UserError as exc:
            found.append(f"{name}: {exc}")
            continue
        if entry.origin == "built-in":
            continue  # mdperf's own, tested with mdperf
        for device in cfg.devices:
            if not entry.availability(device).available:
                continue
            try:
                atoms = systems.build(cfg.system, max(VALIDATION_ATOMS, systems.get_system(cfg.system).min_atoms))
                calc = entry.create(device=device, dtype=cfg.dtype, system=systems.get_system(cfg.system))
                report = validate_calculator(calc, atoms)
            except Unsupported:
                continue
            except Exception as exc:  # anything the user's factory raises is what we are here to catch
                found.append(f"{name} on {device}: {type(exc).__name__}: {exc}")
                continue
            if not report.ok:
                found.append(f"{name} on {device}: " + "; ".join(f"{c.name}: {c.message}" for c in report.failures()))
    return found


def in_child(repo: Path, pyproject: Path, profile: str, timeout_s: float = 600, python: str | None = None) -> list[str]:
    """:func:`problems`, in a fresh process of ``python`` (default: this interpreter; `mdperf track` also uses each
    benchmark environment's) that imports the repository's working tree first."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(repo / "src"), str(repo), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    p = subprocess.run([python or sys.executable, "-m", "mdperf.suite.validate", str(pyproject), profile],
                       capture_output=True, text=True, env=env, cwd=repo, timeout=timeout_s)
    try:
        return list(json.loads(p.stdout.strip().splitlines()[-1]))
    except (ValueError, IndexError):
        last = (p.stderr.strip().splitlines() or ["no output"])[-1]
        return [f"the calculator check could not run (exit {p.returncode}): {last}"]


if __name__ == "__main__":
    from ..errors import UserError

    try:
        print(json.dumps(problems(sys.argv[1], sys.argv[2])))
    except UserError as exc:
        print(json.dumps([str(exc)]))
