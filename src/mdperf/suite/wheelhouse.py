"""mdperf inside the benchmark environment: the same mdperf for every commit of a tracked repository.

Installed from an index, mdperf is a pinned requirement of asv's matrix.  Installed from a source checkout (an
editable or local install, as a developer or a CI job has it), there is nothing to pin: ``mdperf track`` builds
mdperf's wheel into a wheelhouse beside the results, hands it to pip through ``PIP_FIND_LINKS`` when asv
creates the environment, and reinstalls it into existing environments whenever the wheel changed.  The
environment reaches no other index than the one it already uses.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

from .. import benchenv, children

MARKER = "mdperf-wheel.sha256"  # in each environment: the wheel it holds


def source_dir() -> Path | None:
    """The directory mdperf was installed from (an editable or local-path install), else None (an index)."""
    try:
        raw = importlib.metadata.distribution("mdperf").read_text("direct_url.json")
    except importlib.metadata.PackageNotFoundError:
        return None
    if not raw:
        return None
    try:
        info = json.loads(raw)
    except ValueError:
        return None
    url = urlparse(info.get("url", ""))
    if "dir_info" not in info or url.scheme != "file":
        return None
    path = Path(unquote(url.path))
    return path if (path / "pyproject.toml").exists() else None


def build(source: Path, wheelhouse: Path, log: Path) -> Path:
    """mdperf's wheel from ``source`` into ``wheelhouse``; RuntimeError with the log's path when pip fails."""
    wheelhouse.mkdir(parents=True, exist_ok=True)
    for old in wheelhouse.glob("mdperf-*.whl"):
        old.unlink()
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as f:
        rc = benchenv.pip_wheel(sys.executable, source, wheelhouse, f)
    wheels = sorted(wheelhouse.glob("mdperf-*.whl"))
    if rc != 0 or not wheels:
        raise RuntimeError(f"could not build mdperf's wheel from {source} (pip exit {rc}); log: {log}")
    return wheels[-1]


def digest(wheel: Path) -> str:
    return hashlib.sha256(wheel.read_bytes()).hexdigest()


def refresh(environments: list[Path], wheel: Path, log: Path) -> list[str]:
    """Install ``wheel`` (without dependencies) into each of the asv ``environments`` that holds another one; the
    environments refreshed.  RuntimeError when pip fails."""
    want = digest(wheel)
    done = []
    for env in environments:
        python = benchenv.python_of(env)
        marker = env / MARKER
        if not python.exists() or (marker.exists() and marker.read_text().strip() == want):
            continue
        with open(log, "a") as f:
            rc = children.run([str(python), "-m", "pip", "install", "--no-deps", "--force-reinstall", str(wheel)],
                              stdout=f, stderr=subprocess.STDOUT)
        if rc != 0:
            raise RuntimeError(f"could not install mdperf's wheel into {env.name} (pip exit {rc}); "
                               f"log: {log}")
        marker.write_text(want + "\n")
        done.append(env.name)
    return done
