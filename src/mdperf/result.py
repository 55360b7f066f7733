"""The result of one measurement: metrics with a status each, the samples they rest on, the environment.

Serialised as JSON with ``schema_version``; a metric is never silently missing or invented: it is ``ok`` with a
value, ``skipped`` with a reason (no CUDA, not NVE, ...) or ``error`` with the message.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

SCHEMA_VERSION = 1
Status = Literal["ok", "skipped", "error"]


@dataclass
class Metric:
    value: float | None
    unit: str
    status: Status = "ok"
    reason: str = ""

    @classmethod
    def ok(cls, value: float, unit: str) -> "Metric":
        value = float(value)
        if not math.isfinite(value):
            return cls(None, unit, "error", f"not finite: {value}")
        return cls(value, unit)

    @classmethod
    def skipped(cls, unit: str, reason: str) -> "Metric":
        return cls(None, unit, "skipped", reason)

    @classmethod
    def error(cls, unit: str, reason: str) -> "Metric":
        return cls(None, unit, "error", reason)


@dataclass
class MeasureResult:
    case: dict[str, Any]
    status: Status = "ok"
    reason: str = ""
    metrics: dict[str, Metric] = field(default_factory=dict)
    samples: dict[str, list[float]] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    blowup: dict[str, Any] | None = None
    schema_version: int = SCHEMA_VERSION

    def value(self, name: str) -> float | None:
        """A metric's value, or None when it is not ok."""
        m = self.metrics.get(name)
        return m.value if m is not None and m.status == "ok" else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self, **kw: Any) -> str:
        return json.dumps(self.to_dict(), **kw)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "MeasureResult":
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ValueError(f"unsupported mdperf result schema_version {version!r} (this mdperf reads {SCHEMA_VERSION})")
        data = dict(data)
        data["metrics"] = {k: Metric(**v) for k, v in data.get("metrics", {}).items()}
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> "MeasureResult":
        return cls.from_dict(json.loads(text))

    def write_json(self, path: str | os.PathLike[str]) -> None:
        atomic_write_text(path, self.to_json(indent=1))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename: never a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        # mkstemp makes the file 0600; a result, a site page or a config is read by others (a web server)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
