"""The measured repository's asv configuration and mdperf's own settings for it."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import UserError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_LAST = 3  # commits measured by `mdperf track` on a machine with no results yet


@dataclass
class AsvSetup:
    repo: Path
    config_path: Path
    results_dir: Path
    html_dir: Path
    env_dir: Path
    matrix: dict[str, Any]
    project: str
    first_commit: str | None
    default_last: int
    default_profile: str

    @property
    def state_dir(self) -> Path:
        """mdperf's own files beside asv's (kept out of results_dir, which asv publish reads wholesale)."""
        return self.results_dir.parent / "mdperf"

    def live_environments(self) -> list[Path]:
        """The benchmark environments of the current matrix (asv's own naming), existing or not."""
        from asv import config as asv_config
        from asv import environment

        try:
            conf = asv_config.Config.load(str(self.config_path))
            return [self.env_dir / e.dir_name for e in environment.get_environments(conf, None, verbose=False)]
        except Exception:  # asv cannot name them (a Python it cannot find): every one on disk counts as live
            return [p.parent for p in self.env_dir.glob("*/asv-env-info.json")]

    def environments(self) -> tuple[list[Path], list[Path]]:
        """(live, stale) environments on disk: stale ones belong to an earlier matrix; asv never uses them again."""
        live = {p.resolve() for p in self.live_environments()}
        on_disk = sorted(p.parent for p in self.env_dir.glob("*/asv-env-info.json"))
        return [p for p in on_disk if p.resolve() in live], [p for p in on_disk if p.resolve() not in live]

    @property
    def torch_requirement(self) -> str:
        return str(self.matrix.get("req", {}).get("torch", "") or "any")


def load(repo: Path, config: str | Path | None = None) -> AsvSetup:
    from asv import util

    config_path = Path(config) if config else repo / "asv.conf.json"
    if not config_path.exists():
        raise UserError(f"no asv configuration at {config_path} (mdperf track needs an asv.conf.json)")
    try:
        d = util.load_json(str(config_path), api_version=1, js_comments=True)
    except Exception as exc:
        raise UserError(f"cannot read {config_path}: {exc}") from None
    base = config_path.parent
    if not isinstance(d, dict):
        raise UserError(f"{config_path}: not a JSON object")
    for key in ("repo", "results_dir", "html_dir", "env_dir", "project"):
        if key in d and not isinstance(d[key], str):
            raise UserError(f"{config_path}: {key} must be a string, got {d[key]!r}")
    if not isinstance(d.get("matrix", {}), dict):
        raise UserError(f"{config_path}: matrix must be an object")

    def where(key: str, default: str) -> Path:
        # Symlinks are not followed: a nightly keeps .asv/env as a link to a folder the checkout does not clean.
        return Path(os.path.normpath(base.resolve() / d.get(key, default)))

    # The configuration must measure this repository, and keep what it writes inside it: a configuration of
    # another repository would measure commits of one and file them under the other.
    measured = where("repo", ".").resolve()
    if measured != repo.resolve():
        raise UserError(f"{config_path} measures the repository at {measured}, not {repo.resolve()}; "
                        "run mdperf init in the repository to track")
    for key, default in (("results_dir", "results"), ("html_dir", "html"), ("env_dir", "env")):
        if not where(key, default).is_relative_to(repo.resolve()):
            raise UserError(f"{config_path}: {key} {where(key, default)} is outside the tracked repository "
                            f"{repo.resolve()}")

    settings: dict[str, Any] = {}
    pyproject = repo / "pyproject.toml"
    if pyproject.exists():
        try:
            settings = tomllib.loads(pyproject.read_text()).get("tool", {}).get("mdperf", {}).get("track", {})
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise UserError(f"cannot read {pyproject}: {exc}") from None
    default_last = settings.get("default_last", DEFAULT_LAST)
    if not isinstance(default_last, int) or isinstance(default_last, bool) or default_last < 1:
        raise UserError(f"{pyproject} [tool.mdperf.track]: default_last must be a whole number >= 1, "
                        f"got {default_last!r}")
    for key in ("first_commit", "profile"):
        if key in settings and not isinstance(settings[key], str):
            raise UserError(f"{pyproject} [tool.mdperf.track]: {key} must be a string, got {settings[key]!r}")
    return AsvSetup(
        repo=repo, config_path=config_path, results_dir=where("results_dir", "results"),
        html_dir=where("html_dir", "html"), env_dir=where("env_dir", "env"), matrix=d.get("matrix", {}),
        project=str(d.get("project", "")),
        first_commit=settings.get("first_commit"), default_last=default_last,
        default_profile=str(settings.get("profile", "default")),
    )
