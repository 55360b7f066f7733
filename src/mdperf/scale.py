"""``mdperf scale``: time per step against atom count for each calculator, each size in a process of its own, with
the fitted log-log slope; a table, a figure and ``scaling.json``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from rich.markup import escape
from rich.table import Table

from .errors import UserError
from .formats import number
from .measurement import Case
from .result import MeasureResult, atomic_write_text


@dataclass
class Scaling:
    system: str
    device: str
    steps: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    slopes: dict[str, float | None] = field(default_factory=dict)  # per calculator label: time ~ atoms^slope

    @property
    def ok(self) -> bool:
        return all(r["status"] == "ok" for r in self.rows)


def _row(case: Case, r: MeasureResult) -> dict[str, Any]:
    lat = np.asarray(r.samples.get("latency_ms", []), dtype=float)
    return {"calculator": case.label, "device": case.device, "threads": case.threads, "atoms": case.atoms,
            "status": r.status,
            "reason": r.reason, "latency_median_ms": r.value("latency_median_ms"),
            "latency_q25_ms": float(np.percentile(lat, 25)) if lat.size else None,
            "latency_q75_ms": float(np.percentile(lat, 75)) if lat.size else None,
            "us_per_atom_step": r.value("us_per_atom_step")}


def scale(cases: list[Case], labels: list[str], measure: Callable[[Case], MeasureResult], system: str, device: str,
          steps: int) -> Scaling:
    """Each case measured by ``measure``; the slope of each calculator (``labels``) over its sizes, per thread count
    where several were swept (keyed ``label @N threads``)."""
    from . import figures

    out = Scaling(system, device, steps, [_row(case, measure(case)) for case in cases])
    counts = sorted({case.threads for case in cases})
    for calc in labels:
        for threads in counts:
            pts = [r for r in out.rows if r["calculator"] == calc and r["threads"] == threads and r["latency_median_ms"]]
            key = calc if len(counts) == 1 else f"{calc} @{threads} threads"
            out.slopes[key] = figures.fit_slope(np.array([p["atoms"] for p in pts], float),
                                                 np.array([p["latency_median_ms"] for p in pts], float))
    return out


def table(s: Scaling) -> Table:
    t = Table(title=f"{s.system}, {s.device}, {s.steps} steps: time per step against atoms")
    for col in ("calculator", "threads", "atoms", "median ms", "IQR ms", "µs/atom/step", "status"):
        t.add_column(col, justify="left" if col in ("calculator", "status") else "right")
    for row in s.rows:
        iqr = (f"{row['latency_q25_ms']:.3g}-{row['latency_q75_ms']:.3g}" if row["latency_q25_ms"] is not None
               else "—")
        t.add_row(row["calculator"], str(row["threads"]), str(row["atoms"]), number(row["latency_median_ms"]), iqr,
                  number(row["us_per_atom_step"]), escape(row["status"] + (f": {row['reason']}" if row["reason"] else "")))
    return t


def slope_lines(s: Scaling) -> list[str]:
    return [f"{calc}: time ~ atoms^{slope:.2f}" if slope is not None else f"{calc}: too few sizes to fit"
            for calc, slope in s.slopes.items()]


def write(s: Scaling, out: Path) -> list[Path]:
    """The figure (PNG and SVG) and ``scaling.json`` into ``out``; the files."""
    from . import figures

    paths = figures.scaling_figure(s.rows, out)
    try:
        atomic_write_text(out / "scaling.json", json.dumps({"system": s.system, "device": s.device, "steps": s.steps,
                                                            "slopes": s.slopes, "rows": s.rows}, indent=1))
    except OSError as exc:
        raise UserError(f"could not write {out / 'scaling.json'}: {exc.strerror or exc}") from None
    return [*paths, out / "scaling.json"]
