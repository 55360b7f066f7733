"""Regression settings: ``[tool.mdperf.regressions]`` in the measured repository's pyproject.toml, or a TOML
file given with ``--settings`` (same keys, at top level or under that table).

    [tool.mdperf.regressions]
    min_rel_change = 0.02        # nothing below 2 % is flagged
    confirm_after = 3            # commits at the new level before a change is confirmed
    new_window = 5               # without --since: a confirmed regression in a series' last 5 commits is new
    higher_is_better = ["*steps_per_s*", "*per_day*"]

    [[tool.mdperf.regressions.override]]   # first matching pattern wins
    pattern = "md.Energy.*"
    min_rel_change = 0.5

    [tool.mdperf.regressions.events]     # run-wide shifts of one machine (docs/reference/settings.md)
    min_series = 10
    min_share = 0.5
    run_gap_h = 3
"""

from __future__ import annotations

import fnmatch
import math
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..history import HIGHER_IS_BETTER_PATTERNS, RUN_GAP_H
from .detector import DetectorConfig
from .events import EventConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_DETECTOR_KEYS = set(DetectorConfig.__dataclass_fields__)
_EVENT_KEYS = set(EventConfig.__dataclass_fields__) | {"run_gap_h"}


@dataclass
class RegressionConfig:
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    new_window: int = 5
    higher_is_better: tuple[str, ...] = HIGHER_IS_BETTER_PATTERNS
    overrides: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    events: EventConfig = field(default_factory=EventConfig)
    run_gap_h: float = RUN_GAP_H  # result files of one machine begun this close together are one run

    def for_benchmark(self, name: str) -> DetectorConfig:
        for pattern, values in self.overrides:
            if fnmatch.fnmatch(name, pattern):
                return replace(self.detector, **values)
        return self.detector


# Settings that must be at least 1 (a window of 0 commits hides every change) or strictly positive.
_AT_LEAST_ONE = {"window", "local_window", "confirm_after", "young", "min_series", "lasted_max"}
_POSITIVE = {"penalty_beta", "z_min", "hampel_k", "tail_z", "jump_k", "alt_z", "persist_z", "z", "stand_out",
             "run_gap_h"}


def _detector_values(table: dict[str, Any], where: str, keys: set[str] = _DETECTOR_KEYS) -> dict[str, Any]:
    """The table's values for ``keys``, each a finite number of its setting's type and range; else UserError."""
    defaults = {**{f: getattr(DetectorConfig(), f) for f in _DETECTOR_KEYS},
                **{f: getattr(EventConfig(), f) for f in EventConfig.__dataclass_fields__}}
    values = {k: v for k, v in table.items() if k in keys}
    for k, v in values.items():
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or v < 0:
            raise UserError(f"{where}: {k} must be a finite number >= 0, got {v!r}")
        if isinstance(defaults.get(k), int) and not isinstance(defaults.get(k), bool) and v != int(v):
            raise UserError(f"{where}: {k} must be a whole number, got {v!r}")
        if k in _AT_LEAST_ONE and v < 1:
            raise UserError(f"{where}: {k} must be >= 1, got {v!r}")
        if k in _POSITIVE and v <= 0:
            raise UserError(f"{where}: {k} must be > 0, got {v!r}")
    return {k: (int(v) if isinstance(defaults.get(k), int) else float(v)) for k, v in values.items()}


def load(path: str | Path | None = None, repo: str | Path | None = None) -> RegressionConfig:
    """The config from ``path``, else from ``repo``/pyproject.toml, else the defaults."""
    table: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text())
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise UserError(f"cannot read regression config {p}: {exc}") from None
        if not isinstance(data, dict):
            raise UserError(f"cannot read regression config {p}: not a table")
        table = data.get("tool", {}).get("mdperf", {}).get("regressions", data)
        source = str(p)
    elif repo is not None and (Path(repo) / "pyproject.toml").exists():
        p = Path(repo) / "pyproject.toml"
        try:
            table = tomllib.loads(p.read_text()).get("tool", {}).get("mdperf", {}).get("regressions", {})
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise UserError(f"cannot read {p}: {exc}") from None
        source = str(p)
    known = _DETECTOR_KEYS | {"new_window", "higher_is_better", "override", "events"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise UserError(f"{source}: unknown regression setting(s) {', '.join(unknown)}; valid: {', '.join(sorted(known))}")
    cfg = RegressionConfig(detector=replace(DetectorConfig(), **_detector_values(table, source)))
    if "new_window" in table:
        nw = table["new_window"]
        if not isinstance(nw, int) or isinstance(nw, bool) or nw < 1:
            raise UserError(f"{source}: new_window must be a whole number >= 1, got {nw!r}")
        cfg.new_window = nw
    ev = table.get("events", {})
    if not isinstance(ev, dict):
        raise UserError(f"{source}: events must be a table")
    bad = sorted(set(ev) - _EVENT_KEYS)
    if bad:
        raise UserError(f"{source}: unknown events setting(s) {', '.join(bad)}; valid: {', '.join(sorted(_EVENT_KEYS))}")
    ev_values = _detector_values(ev, f"{source} events", _EVENT_KEYS)
    cfg.run_gap_h = float(ev_values.pop("run_gap_h", RUN_GAP_H))
    defaults = EventConfig()
    cfg.events = replace(defaults, **ev_values)
    if "higher_is_better" in table:
        patterns = table["higher_is_better"]
        if not isinstance(patterns, list) or not all(isinstance(x, str) and x for x in patterns):
            raise UserError(f"{source}: higher_is_better must be a list of name patterns, e.g. [\"*steps_per_s*\"], "
                            f"got {patterns!r}")
        cfg.higher_is_better = tuple(patterns)
    for i, o in enumerate(table.get("override", [])):
        if not isinstance(o, dict) or "pattern" not in o:
            raise UserError(f"{source}: override {i + 1} needs a pattern")
        extra = sorted(set(o) - _DETECTOR_KEYS - {"pattern"})
        if extra:
            raise UserError(f"{source}: override {o['pattern']!r}: unknown setting(s) {', '.join(extra)}")
        cfg.overrides.append((str(o["pattern"]), _detector_values(o, f"{source} override {o['pattern']!r}")))
    return cfg
