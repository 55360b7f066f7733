"""``mdperf compare``: the same case for several calculators, each measured in a process of its own, relative to
the first (the reference: a teacher model, the previous version); with agreement, each one's energy and force
errors against the first on the same frames (:mod:`mdperf.agreement`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from rich.markup import escape
from rich.table import Table

from .errors import UserError
from .formats import number, ratio
from .measurement import calculator_label
from .result import MeasureResult
from .threads import DEFAULT_THREADS
from .threads import text as threads_text


def reference_of(given: str | None, where: Path) -> str | None:
    """The reference calculator: the one given, else the repository's ``[tool.mdperf.suite] reference``."""
    if given is not None:
        return given
    from .suite import config as suite_config

    try:
        return suite_config.read_table(where / "pyproject.toml").get("reference")
    except UserError:
        return None


def ordered(calcs: list[str], reference: str | None) -> list[str]:
    """The reference first, then the others in the order given."""
    return [reference] + [c for c in calcs if c != reference] if reference else list(calcs)


@dataclass
class Comparison:
    calcs: list[str]
    results: list[MeasureResult]
    with_agreement: bool = False
    agreement: dict[str, dict[str, float] | str] = field(default_factory=dict)  # a calculator's errors, or why not
    parity: dict[str, dict[str, Any]] = field(default_factory=dict)  # force components of both, for the figure


def compare(calcs: list[str], measure: Callable[[str, int], MeasureResult],
            agreement_case: dict[str, Any] | None = None, threads: Sequence[int] = (DEFAULT_THREADS,)) -> Comparison:
    """Each calculator at each thread count measured by ``measure(name, threads)`` (in a process of its own: one
    process's peak RSS only grows, and an earlier calculator's GPU cache and warm CUDA context would count in a later
    one's figures), relative to the first calculator at the first count; with ``agreement_case`` (system, atoms,
    device, dtype, seed), each later calculator's errors against the first."""
    out = Comparison(list(calcs), [measure(name, n) for name in calcs for n in threads], agreement_case is not None)
    if agreement_case is not None:
        from .agreement import PARITY_POINTS, agreement

        for name in calcs[1:]:
            try:
                a = agreement(calcs[0], name, parity_points=PARITY_POINTS, **agreement_case)
                out.parity[name] = a.pop("parity")
                out.agreement[name] = a
            except Exception as exc:  # one calculator that cannot be evaluated is its row's note, not the end
                out.agreement[name] = f"{type(exc).__name__}: {exc}"
    return out


def _agreement_cells(c: Comparison, name: str) -> list[str]:
    if not c.with_agreement:
        return []
    a = c.agreement.get(name)
    if a is None:
        return ["reference", "", ""]
    if isinstance(a, str):
        return [escape(a), "", ""]
    return [number(a["energy_mae_mev_per_atom"]), number(a["force_mae_mev_per_a"]), number(a["force_max_mev_per_a"])]


def table(c: Comparison, system: str, protocol: str, device: str, steps: int) -> Table:
    base = c.results[0]
    t = Table(title=f"{system}, {base.case['atoms']} atoms, {protocol}, {device}, {steps} steps (speed-up and memory "
                    f"relative to {c.calcs[0]} at {threads_text(base.case.get('threads', DEFAULT_THREADS))})")
    for col in ("calculator", "threads", "status", "mean ms", "p99 ms", "steps/s", "speed-up", "peak RSS MiB", "RSS ×",
                "GPU peak MiB", "GPU ×", "drift meV/atom/ps"):
        t.add_column(col, justify="left" if col in ("calculator", "status") else "right")
    if c.with_agreement:
        for col in ("E MAE meV/atom", "F MAE meV/Å", "F max meV/Å"):
            t.add_column(col, justify="right")
    for r in c.results:
        status = r.status if r.status == "ok" else f"{r.status}: {r.reason}"
        t.add_row(
            escape(calculator_label(r.case["calculator"], r.case.get("calc_options"))),
            str(r.case.get("threads", "")), escape(status),
            number(r.value("latency_mean_ms")), number(r.value("latency_p99_ms")), number(r.value("steps_per_s")),
            ratio(base.value("latency_mean_ms"), r.value("latency_mean_ms")),
            number(r.value("host_peak_rss_mib")), ratio(r.value("host_peak_rss_mib"), base.value("host_peak_rss_mib")),
            number(r.value("gpu_peak_allocated_mib")),
            ratio(r.value("gpu_peak_allocated_mib"), base.value("gpu_peak_allocated_mib")),
            number(r.value("drift_mev_per_atom_ps")), *_agreement_cells(c, r.case["calculator"]),
        )
    return t


def to_json(c: Comparison) -> str:
    rows = [r.to_dict() for r in c.results]
    for row in rows:
        if c.with_agreement and row["case"]["calculator"] in c.agreement:
            row["agreement_with_" + c.calcs[0]] = c.agreement[row["case"]["calculator"]]
    return json.dumps(rows, indent=1)
