"""The regression report as a terminal table, Markdown (a GitHub job summary or issue body) or JSON.

Confirmed changes come first, by kind; suspected ones are listed apart, "to watch", so that a quiet night
reads quiet.
"""

from __future__ import annotations

import json
from typing import Iterable

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .model import Flag, Report

MIB, GIB = 2.0**20, 2.0**30


def level(value: float, unit: str) -> str:
    """A level in readable units: asv's bytes in MiB or GiB, seconds in s, ms or µs; asv's placeholder unit
    ``"unit"`` is not printed."""
    u = (unit or "").strip()
    if u == "bytes":
        return f"{value / GIB:.3g} GiB" if abs(value) >= GIB else f"{value / MIB:.4g} MiB"
    if u == "seconds":
        if abs(value) >= 1:
            return f"{value:.4g} s"
        return f"{value * 1e3:.4g} ms" if abs(value) >= 1e-3 else f"{value * 1e6:.4g} µs"
    if u in ("", "unit"):
        return f"{value:.4g}"
    return f"{value:.4g} {u}"


def commit_text(f: Flag) -> str:
    return f"{f.range_start[:8]}..{f.commit[:8]}" if f.range_start else f.commit[:8]


def state_text(f: Flag) -> str:
    if f.kind == "transient":
        return f"transient ({f.commits_at_level} commit{'s' if f.commits_at_level != 1 else ''})"
    return f.state + (" (new)" if f.new else "")


def groups(report: Report) -> Iterable[tuple[str, list[Flag]]]:
    confirmed = report.confirmed
    return (("Regressions", [f for f in confirmed if f.kind == "regression"]),
            ("Improvements", [f for f in confirmed if f.kind == "improvement"]),
            ("Transients (runs of 1-3 commits that came back)", [f for f in confirmed if f.kind == "transient"]),
            ("To watch (suspected, not yet confirmed)", report.suspected))


def headline(report: Report) -> str:
    n = len(report.new_confirmed_regressions)
    return (f"{report.n_series} series over {report.n_commits} measured commits (order: {report.ordered_by}); "
            + (f"{n} new confirmed regression(s)" if n else "no new confirmed regression"))


def table(report: Report, console: Console) -> None:
    console.print(headline(report), soft_wrap=True)
    for title, flags in groups(report):
        if not flags:
            console.print(f"{title}: none")
            continue
        t = Table(title=f"{title}, newest first")
        for col in ("commit", "date", "subject", "benchmark", "parameters", "machine", "change", "before -> after",
                    "state"):
            t.add_column(col, justify="right" if col == "change" else "left", overflow="fold")
        for f in flags:
            color = {"regression": "red", "improvement": "green"}.get(f.kind, "yellow")
            if f.state == "suspected":
                color = "yellow"
            t.add_row(commit_text(f), f.date or "", escape(f.subject), escape(f.benchmark), escape(f.params_text),
                      escape(f.machine), f"[{color}]{f.change_pct:+.1f}%[/]",
                      f"{level(f.before, f.unit)} -> {level(f.after, f.unit)}", state_text(f))
        console.print(t)
    for p in report.problems[:10]:
        console.print(f"[yellow]skipped[/] {escape(p.path)}: {escape(p.reason)}", soft_wrap=True)
    if len(report.problems) > 10:
        console.print(f"… and {len(report.problems) - 10} more skipped (all of them with --format json)")


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(report: Report, site_url: str = "") -> str:
    n = len(report.new_confirmed_regressions)
    news = f"**{n} new confirmed regression(s)**" if n else "**no new confirmed regression**"
    lines = ["## mdperf regressions", "",
             f"{report.n_series} series over {report.n_commits} measured commits; {news}"
             + (f" since `{report.since[:10]}`" if report.since else "") + ".", ""]
    for title, flags in groups(report):
        lines += [f"### {title}", ""]
        if not flags:
            lines += ["None.", ""]
            continue
        lines += ["| commit | date | subject | benchmark | parameters | machine | change | before → after | state |",
                  "| --- | --- | --- | --- | --- | --- | ---: | --- | --- |"]
        for f in flags:
            bench = f"[{_md(f.benchmark)}]({site_url}{f.graph})" if site_url else f"`{_md(f.benchmark)}`"
            lines.append(f"| `{commit_text(f)}` | {f.date or ''} | {_md(f.subject)} | {bench} | {_md(f.params_text)} | "
                         f"{_md(f.machine)} | {f.change_pct:+.1f}% | {level(f.before, f.unit)} → "
                         f"{level(f.after, f.unit)} | {state_text(f)} |")
        lines.append("")
    if report.problems:
        lines += ["### Skipped", ""] + [f"- `{_md(p.path)}`: {_md(p.reason)}" for p in report.problems] + [""]
    return "\n".join(lines)


def to_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=1)
