"""Every configured calculator checked once against the calculator contract before a track measures anything,
so that a broken factory fails in seconds, not after an hour of commits: first in mdperf's own interpreter
(before the benchmark environment is even created), then in each benchmark environment (its packages, the
repository's working tree first on the path), which also catches a dependency the environment lacks.

The basic contract (it evaluates; finite energy and forces of the right shape; forces = -dE/dx; the energy
computed with the forces) stops a track; the stricter checks (periodic images, a one-atom cell, translation and
rotation, input atoms unchanged, stress, float32 against float64) are said as warnings and measuring goes on: a
minimum-image calculator is measured truly at the sizes it is right for (docs/reference/contract.md).

Run in a child process with the tracked repository (and its ``src/``) first on the path, so that its package is
the working tree's: ``python -m mdperf.suite.validate PYPROJECT PROFILE`` prints one JSON object, its problems and
its warnings.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from .config import load

VALIDATION_ATOMS = 32  # small: the contract's finite-difference check evaluates it many times
# The checks whose failure stops a track; any other failed check is a warning.
BLOCKING = ("is an ASE calculator", "evaluates", "energy finite", "forces shape", "forces finite",
            "energy computed with forces", "force = -dE/dx")


def other_precision(entry, device: str, dtype: str | None, system, options: dict):
    """A builder of the calculator in its other dtype, where the entry runs in both; else None."""
    mine = entry.effective_dtype(dtype)
    other = {"float32": "float64", "float64": "float32"}.get(mine)
    if other is None or other not in entry.dtypes or mine not in entry.dtypes:
        return None
    return lambda: entry.create(device=device, dtype=other, system=system, options=options)


def problems(pyproject: str | Path, profile: str | None, benchmark_environment: bool = False,
             warnings: list[str] | None = None) -> list[str]:
    """The configured calculators' breaches of the basic contract (the stricter checks' failures appended to
    ``warnings`` where given).  In mdperf's own interpreter a dependency of the
    calculator's package that is not installed here is no problem (the benchmark environment is what must have
    it, and is checked once it exists); in a benchmark environment it is, with the fix."""
    from .. import calculators, systems
    from ..calculators.interface import validate_calculator
    from ..errors import FactoryError, Unsupported, UserError
    from .config import suite_dir

    cfg = load(pyproject, profile)
    calculators.add_search_path(suite_dir(pyproject))
    found = []
    for name in dict.fromkeys([*cfg.calculators, *([cfg.reference] if cfg.reference else [])]):
        options = cfg.options.get(name, {})
        try:
            entry = calculators.resolve(name)
            if entry.origin != "built-in" or options:
                calculators.check_options(name, entry.load_factory(), options)
        except FactoryError as exc:
            if exc.missing and not exc.spec_absent and not benchmark_environment:
                continue  # a dependency mdperf's interpreter need not have
            if exc.missing and benchmark_environment and not exc.spec_absent:
                top = exc.missing.split(".")[0]
                found.append(f"{name}: the benchmark environment lacks {top} ({exc}); add \"{top}\": \"\" to "
                             "matrix.req in asv.conf.json, or run `mdperf init --force`, which reads your package's "
                             "dependencies from its metadata")
            else:
                found.append(f"{name}: {exc}")
            continue
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
                system = systems.get_system(cfg.system)
                calc = entry.create(device=device, dtype=cfg.dtype, system=system, options=options)
                report = validate_calculator(calc, atoms, invariances=warnings is not None,
                                             other_precision=other_precision(entry, device, cfg.dtype, system, options))
            except Unsupported:
                continue
            except ModuleNotFoundError as exc:  # imported lazily by the factory: as above
                if benchmark_environment:
                    found.append(f"{name} on {device}: the benchmark environment lacks {exc.name}; add "
                                 f"\"{(exc.name or '').split('.')[0]}\": \"\" to matrix.req in asv.conf.json")
                continue
            except Exception as exc:  # anything the user's factory raises is what we are here to catch
                cause = exc.__cause__
                if isinstance(cause, ModuleNotFoundError) and not benchmark_environment:
                    continue
                found.append(f"{name} on {device}: {type(exc).__name__}: {exc}")
                continue
            hard = [c for c in report.failures() if c.name in BLOCKING]
            soft = [c for c in report.failures() if c.name not in BLOCKING]
            if hard:
                found.append(f"{name} on {device}: " + "; ".join(f"{c.name}: {c.message}" for c in hard))
            if soft and warnings is not None:
                warnings.append(f"{name} on {device} at {len(atoms)} atoms: "
                                + "; ".join(f"{c.name}: {c.message}" for c in soft))
    return found


def in_child(repo: Path, pyproject: Path, profile: str, timeout_s: float = 600,
             python: str | None = None) -> tuple[list[str], list[str]]:
    """(:func:`problems`, the stricter checks' warnings), in a fresh process of ``python`` (default: this
    interpreter, which also runs the stricter checks; `mdperf track` also uses each benchmark environment's, for
    the basic contract and the dependencies) that imports the repository's working tree first."""
    from .. import children

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(repo / "src"), str(repo), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    where = ["--benchmark-environment"] if python else []
    p = children.capture([python or sys.executable, "-m", "mdperf.suite.validate", str(pyproject), profile, *where],
                         env=env, cwd=repo, timeout_s=timeout_s)
    try:
        found = json.loads(p.stdout.strip().splitlines()[-1])
        if isinstance(found, list):  # an older mdperf in the benchmark environment: problems only
            return [str(x) for x in found], []
        return [str(x) for x in found["problems"]], [str(x) for x in found["warnings"]]
    except (ValueError, IndexError, KeyError, TypeError):
        last = (p.stderr.strip().splitlines() or ["no output"])[-1]
        return [f"the calculator check could not run (exit {p.returncode}): {last}"], []


if __name__ == "__main__":
    from ..errors import UserError

    in_env = "--benchmark-environment" in sys.argv[3:]
    said: list[str] = []
    try:
        print(json.dumps({"problems": problems(sys.argv[1], sys.argv[2], in_env, None if in_env else said),
                          "warnings": said}))
    except UserError as exc:
        print(json.dumps({"problems": [str(exc)], "warnings": said}))
