"""The measured package's dependencies, as asv's matrix needs them: read from the package's own metadata (pip's
dry-run report, any build backend), each turned into a matrix entry, those that do not apply on this Python
left out."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from ..errors import UserError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _project(pyproject: Path) -> dict[str, Any]:
    if not pyproject.exists():
        return {}
    try:
        return tomllib.loads(pyproject.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"cannot read {pyproject}: {exc}") from None


def _requirement_name(req: str) -> str:
    return re.split(r"[\s<>=!~;\[(@]", req.strip(), maxsplit=1)[0]


def package_requirements(repo: Path) -> tuple[list[str] | None, str]:
    """The package's runtime requirements from its metadata, whatever its build backend (setup.py, setup.cfg,
    any pyproject backend): pip prepares the metadata and reports it (``pip install --dry-run --report``), no
    install, nothing written into the repository.  (None, why) when it cannot."""
    import subprocess
    import tempfile

    from .. import children

    if not any((repo / f).exists() for f in ("pyproject.toml", "setup.py", "setup.cfg")):
        return None, "no setup.py, setup.cfg or pyproject.toml"
    why = ""
    with tempfile.TemporaryDirectory(prefix="mdperf-metadata-") as tmp:
        report = Path(tmp) / "report.json"
        for isolation in (["--no-build-isolation"], []):  # without isolation first: no download
            try:
                p = children.capture([sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps",
                                      "--ignore-installed", "--quiet", "--report", str(report), *isolation,
                                      str(repo)], timeout_s=600, cwd=tmp)
            except (OSError, subprocess.TimeoutExpired) as exc:
                why = str(exc)
                continue
            if p.returncode == 0 and report.exists():
                break
            why = (p.stderr.strip().splitlines() or [f"pip exit {p.returncode}"])[-1]
        else:
            return None, f"pip could not read the package's metadata: {why}"
        try:
            meta = json.loads(report.read_text())["install"][0]["metadata"]
        except (OSError, ValueError, KeyError, IndexError) as exc:
            return None, f"pip's report has no metadata: {exc}"
    reqs = [r for r in meta.get("requires_dist") or [] if _applies(r)]
    return list(dict.fromkeys(reqs)), "the package's metadata (pip install --dry-run --report)"


def _applies(requirement: str) -> bool:
    """A runtime requirement of this Python (an extra's, or another platform's, is not)."""
    try:
        from packaging.requirements import Requirement
    except ImportError:  # pragma: no cover
        from pip._vendor.packaging.requirements import Requirement  # type: ignore[assignment]
    try:
        req = Requirement(requirement)
    except Exception:
        return False
    return req.marker is None or req.marker.evaluate({"extra": ""})


def matrix_entry(requirement: str) -> tuple[str, str]:
    """An asv matrix ``req`` entry for a requirement: ``name: ""`` (latest), ``name: "1.2"`` (pinned), or, with a
    range, ``"pip+name>=1,<2": ""`` (asv hands it to pip as written; a bare value would be read as a version)."""
    try:
        from packaging.requirements import Requirement
    except ImportError:  # pragma: no cover
        from pip._vendor.packaging.requirements import Requirement  # type: ignore[assignment]
    req = Requirement(requirement)
    spec = str(req.specifier)
    if not spec or req.url:
        return req.name, ""
    if re.fullmatch(r"==[0-9][0-9A-Za-z._-]*", spec):
        return req.name, spec[2:]
    if re.fullmatch(r"([<>!=~]{1,2}[0-9][0-9A-Za-z._-]*)(,[<>!=~]{1,2}[0-9][0-9A-Za-z._-]*)*", spec):
        return f"pip+{req.name}{spec}", ""
    return req.name, ""  # a form asv's parser cannot carry (a wildcard): the newest
