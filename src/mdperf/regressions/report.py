"""The regression report as a terminal table, Markdown (a GitHub job summary or issue body) or JSON."""

from __future__ import annotations

import json
from typing import Iterable

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .model import Flag, Report

def _commit(f: Flag) -> str:
    return f"{f.range_start[:8]}..{f.commit[:8]}" if f.range_start else f.commit[:8]


def _level(v: float, unit: str) -> str:
    return f"{v:.4g} {unit}".strip()


def _groups(report: Report) -> Iterable[tuple[str, list[Flag]]]:
    regressions = [f for f in report.flags if f.kind == "regression"]
    improvements = [f for f in report.flags if f.kind == "improvement"]
    return (("Regressions", regressions), ("Improvements", improvements))


def table(report: Report, console: Console) -> None:
    console.print(f"{report.n_series} series over {report.n_commits} commits (order: {report.ordered_by}); "
                  f"{len(report.new_confirmed_regressions)} new confirmed regression(s)")
    for title, flags in _groups(report):
        t = Table(title=f"{title} (newest first)")
        for col in ("commit", "benchmark", "parameters", "machine", "change", "before -> after", "state", "new"):
            t.add_column(col, justify="right" if col == "change" else "left")
        for f in flags:
            color = "red" if f.kind == "regression" and f.state == "confirmed" else (
                "yellow" if f.state == "suspected" else "green")
            t.add_row(_commit(f), escape(f.benchmark), escape(f.params_text), escape(f.machine),
                      f"[{color}]{f.change_pct:+.1f}%[/]", f"{_level(f.before, f.unit)} -> {_level(f.after, f.unit)}",
                      f.state, "new" if f.new else "")
        if flags:
            console.print(t)
        else:
            console.print(f"{title}: none")
    for p in report.problems[:10]:
        console.print(f"[yellow]skipped[/] {escape(p.path)}: {escape(p.reason)}", soft_wrap=True)
    if len(report.problems) > 10:
        console.print(f"… and {len(report.problems) - 10} more skipped (all of them with --format json)")


def markdown(report: Report, site_url: str = "") -> str:
    lines = ["## mdperf regressions", "",
             f"{report.n_series} series over {report.n_commits} commits; "
             f"**{len(report.new_confirmed_regressions)} new confirmed regression(s)**"
             + (f" since `{report.since[:10]}`" if report.since else "") + ".", ""]
    for title, flags in _groups(report):
        lines += [f"### {title}", ""]
        if not flags:
            lines += ["None.", ""]
            continue
        lines += ["| commit | benchmark | parameters | machine | change | before → after | state |",
                  "| --- | --- | --- | --- | ---: | --- | --- |"]
        for f in flags:
            bench = f"[{f.benchmark}]({site_url}{f.graph})" if site_url else f"`{f.benchmark}`"
            state = f.state + (" (new)" if f.new else "")
            lines.append(f"| `{_commit(f)}` | {bench} | {f.params_text} | {f.machine} | {f.change_pct:+.1f}% | "
                         f"{_level(f.before, f.unit)} → {_level(f.after, f.unit)} | {state} |")
        lines.append("")
    if report.problems:
        lines += ["### Skipped", ""] + [f"- `{p.path}`: {p.reason}" for p in report.problems] + [""]
    return "\n".join(lines)


def to_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=1)
