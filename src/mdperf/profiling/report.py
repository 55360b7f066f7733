"""A profile's formats: the terminal table, the Markdown of the issue and the site's changes page, JSON."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def _pct(v: float | None) -> str:
    return "new" if v is None else f"{v:+.0f}%"


def headline(rec: dict[str, Any]) -> str:
    c = rec["case"]
    return (f"profile of {rec['commit'][:8]} against {rec['base'][:8]}: {c['calculator']} at {c['atoms']} atoms on "
            f"{c['device']}, {rec['rounds']} rounds a side, profiled step {rec['step_growth_pct']:+.1f}% "
            f"({'cProfile' if rec['kind'] == 'function' else 'torch.profiler, device time'})")


def show(rec: dict[str, Any], fmt: str, console: Console, top: int = 10) -> None:
    if fmt == "json":
        console.print_json(json.dumps(rec))
        return
    console.print(headline(rec), highlight=False, soft_wrap=True)
    t = Table(title=f"grew most (self time per MD step, median of {rec['rounds']} rounds)", title_justify="left")
    for col in ("#", rec["kind"], "base ms", "commit ms", "self +ms", "self", "range +ms", "total +ms", "share"):
        t.add_column(col, justify="left" if col == rec["kind"] else "right", overflow="fold")
    for i, r in enumerate(rec["rows"][:top], 1):
        lo, hi = r["self_growth_range_ms"]
        t.add_row(str(i), escape(r["name"]), f"{r['base_self_ms']:.3f}", f"{r['commit_self_ms']:.3f}",
                  f"{r['self_growth_ms']:+.3f}", _pct(r["self_growth_pct"]), f"{lo:+.3f}..{hi:+.3f}",
                  f"{r['total_growth_ms']:+.3f}", "" if r["share_pct"] is None else f"{r['share_pct']:.0f}%")
    console.print(t)
    console.print(f"traces (Chrome-trace JSON: Perfetto, chrome://tracing, speedscope): {rec['traces']['base']}, "
                  f"{rec['traces']['commit']} under {rec['machine']}'s results", highlight=False, soft_wrap=True)


def markdown(rec: dict[str, Any], link: str | None = None, top: int = 10) -> list[str]:
    """The profile as Markdown lines: the issue text and the site's changes page."""
    c = rec["case"]
    lines = [f"**Why (profile)**: {c['calculator']} at {c['atoms']} atoms on {c['device']}, {rec['commit'][:8]} "
             f"against {rec['base'][:8]}, {rec['rounds']} rounds a side: the profiled step "
             f"{rec['step_growth_pct']:+.1f}%" + ("" if not link else f" ([profile and traces]({link}))" if "://" in link
                                                else f" (profile and traces: `{link}` in the results)"), "",
             f"| # | {rec['kind']} | self ms/step base → commit | self | range of rounds | share of growth |",
             "|---|---|---|---|---|---|"]
    for i, r in enumerate(rec["rows"][:top], 1):
        lo, hi = r["self_growth_range_ms"]
        name = r["name"].replace("|", "\\|")
        lines.append(f"| {i} | `{name}` | {r['base_self_ms']:.3f} → {r['commit_self_ms']:.3f} | "
                     f"{_pct(r['self_growth_pct'])} | {lo:+.3f}..{hi:+.3f} | "
                     f"{'' if r['share_pct'] is None else format(r['share_pct'], '.0f') + '%'} |")
    return lines
