"""asv's benchmark environments, in one place: each environment's interpreter, a package's wheel built and a
commit installed into a folder of its own, and the measuring child — one case in a fresh process of an
environment's Python, in a session that ends with mdperf whatever ends mdperf (:mod:`mdperf.children`).

Used by ``mdperf track`` (the environments' interpreters, the validation), the suite inside asv (each case's
child), ``mdperf confirm`` and ``mdperf bisect`` (a commit's folder, the child), and mdperf's own wheel
(:mod:`mdperf.suite.wheelhouse`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from . import children, git, threads
from .errors import UserError

if TYPE_CHECKING:
    from .asvconf import AsvSetup


def python_of(env: Path) -> Path:
    """The interpreter of an asv environment (or any virtual environment)."""
    return env / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def live_python(setup: AsvSetup) -> Path:
    """The Python of a live benchmark environment (one of the current matrix, never a stale one)."""
    for env in setup.environments()[0]:
        py = python_of(env)
        if py.exists():
            return py
    raise UserError(f"no benchmark environment under {setup.env_dir}: run `mdperf track` first")


def pip_wheel(python: str | Path, source: Path, dest: Path, log: IO[str]) -> int:
    """``pip wheel --no-deps`` of ``source`` into ``dest``, pip's exit code.  Without build isolation first (as
    asv builds, no download); an interpreter whose setuptools is too old then builds in pip's isolated
    environment."""
    rc = 1
    for isolation in (["--no-build-isolation"], []):
        rc = children.run([str(python), "-m", "pip", "wheel", "--no-deps", *isolation, "-w", str(dest), str(source)],
                          stdout=log, stderr=subprocess.STDOUT)
        if rc == 0:
            break
    return rc


def install_commit(setup: AsvSetup, python: Path, commit: str, where: Path, log: Path) -> Path:
    """The commit's package, built by ``python`` and installed into a folder of its own under ``where``; the
    folder (first on the path of :func:`measure_in_child`)."""
    src, wheels, site = where / f"src-{commit[:12]}", where / f"wheel-{commit[:12]}", where / f"site-{commit[:12]}"
    src.mkdir(parents=True)
    data = git.git_io(setup.repo, "archive", "--format=tar", commit).stdout
    with tempfile.TemporaryFile() as tmp:
        tmp.write(data)
        tmp.seek(0)
        with tarfile.open(fileobj=tmp) as tar:
            tar.extractall(src, filter="data")
    with open(log, "a") as out:
        if pip_wheel(python, src, wheels, out) != 0:
            raise UserError(f"commit {commit[:8]} does not build; log: {log}")
        wheel = next(wheels.glob("*.whl"))
        rc = children.run([str(python), "-m", "pip", "install", "--no-deps", "--target", str(site), str(wheel)],
                          stdout=out, stderr=subprocess.STDOUT)
        if rc != 0:
            raise UserError(f"commit {commit[:8]}: its wheel does not install; log: {log}")
    shutil.rmtree(src, ignore_errors=True)
    return site


# Run in a fresh Python process per case (``python -c``): the argument is the case as JSON, the answer is
# written as JSON to the file named second.  Kept to the mdperf API every suite-era commit has.
CHILD = """
import inspect, json, sys
from mdperf import measure
a = json.loads(sys.argv[1])
extra = {k: a[k] for k in ("protocol", "dtype", "calc_options") if a.get(k)}
if a.get("threads") and "threads" in inspect.signature(measure).parameters:
    extra["threads"] = a["threads"]
r = measure(a["calculator"], a["system"], a["atoms"], a["steps"], device=a["device"], warmup=a["warmup"], **extra)
out = {"status": r.status, "reason": r.reason, "atoms": r.case.get("atoms"),
       "metrics": {k: m.value if m.status == "ok" else None for k, m in r.metrics.items()},
       "metric_reasons": {k: m.reason for k, m in r.metrics.items() if m.status != "ok"},
       "threads": r.environment.get("threads")}
with open(sys.argv[2], "w") as f:
    json.dump(out, f)
"""


# The accuracy child: one calculator's energies and forces against the reference's on the case's fixed frames
# (mdperf.agreement), both evaluated in this one fresh process.
AGREEMENT_CHILD = """
import json, sys
from mdperf.agreement import PARITY_POINTS, agreement
a = json.loads(sys.argv[1])
r = agreement(a["reference"], a["calculator"], a["system"], a["atoms"], device=a["device"], dtype=a.get("dtype"),
              options=a.get("calc_options") or None, reference_options=a.get("reference_options") or None,
              parity_points=PARITY_POINTS)
with open(sys.argv[2], "w") as f:
    json.dump(r, f)
"""


class ChildFailed(Exception):
    """The measuring process did not answer: it exited without a result (``returncode``, the last line of its
    stderr) or ran past its time (``returncode`` None)."""

    def __init__(self, returncode: int | None, last: str) -> None:
        super().__init__(last)
        self.returncode, self.last = returncode, last


def measure_in_child(python: str | Path, args: dict[str, Any], *, site: Path | None = None,
                     timeout_s: float | None = None, child: str = CHILD) -> dict[str, Any]:
    """One case (:data:`CHILD`'s JSON) measured in a fresh process of ``python``; its answer.  With ``site``, that
    folder comes first on the path and the child runs from an empty folder: ``python -c`` puts the working
    directory first, and a checkout's own package would shadow the commit's."""
    # The declared count in the child's variables: its libraries start with it, whatever its mdperf's age.
    env = dict(os.environ, **threads.env(args.get("threads") or threads.DEFAULT_THREADS))
    if site is not None:
        env = dict(env, PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])
                   .rstrip(os.pathsep))
    with tempfile.TemporaryDirectory(prefix="mdperf-case-") as tmp:
        out = Path(tmp) / "result.json"
        try:
            p = children.capture([str(python), "-c", child, json.dumps(args), str(out)], env=env,
                                 cwd=tmp if site is not None else None, timeout_s=timeout_s)
        except subprocess.TimeoutExpired:  # a hanging calculator: this case's error, the others still run
            raise ChildFailed(None, "timed out") from None
        if p.returncode != 0 or not out.exists():
            raise ChildFailed(p.returncode, (p.stderr.strip().splitlines() or ["no output"])[-1])
        return json.loads(out.read_text())
