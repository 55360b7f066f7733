"""The regression report as a terminal table, Markdown (a GitHub job summary or issue body) or JSON.

Confirmed changes come first, by kind; suspected ones are listed apart, "to watch", so that a quiet night
reads quiet.
"""

from __future__ import annotations

import json
import re
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


def verdict_text(f: Flag) -> str:
    """mdperf confirm's re-measurement: "re-measured: x1.12 [1.08, 1.15] vs base"."""
    v = f.verdict
    if not v:
        return ""
    ci = v.get("ci") or [float("nan"), float("nan")]
    text = f"re-measured ×{v['ratio']:.3f} [{ci[0]:.3f}, {ci[1]:.3f}] against {str(v.get('base', ''))[:8]}"
    if v.get("verdict") == "inconclusive":  # could not decide: the flag stays as the history has it
        text += f" ({v.get('rounds')} rounds): inconclusive, kept to watch"
    return text


def state_text(f: Flag) -> str:
    if f.kind == "transient":
        return f"transient ({f.commits_at_level} commit{'s' if f.commits_at_level != 1 else ''})"
    text = f.state + (" (new)" if f.new and f.state != "rejected" else "")
    return text + (f"; {verdict_text(f)}" if f.verdict else "")


def groups(report: Report) -> Iterable[tuple[str, list[Flag]]]:
    confirmed = report.confirmed
    out = [("Regressions", [f for f in confirmed if f.kind == "regression"]),
           ("Improvements", [f for f in confirmed if f.kind == "improvement"]),
           ("Transients (runs of 1-3 commits that came back)", [f for f in confirmed if f.kind == "transient"]),
           ("To watch (suspected, not yet confirmed)", report.suspected)]
    if report.rejected:  # only where mdperf confirm ran
        out.append(("Rejected (re-measured against the base: no change)", report.rejected))
    return out


ORDER_TEXT = {"git": "git first-parent order",
              "run time": "the order they were measured (asv's run times; give the repository for git order)",
              "date": "commit date (no run times recorded; give the repository for git order)"}


def order_text(report: Report) -> str:
    text = f"commits in {ORDER_TEXT.get(report.ordered_by, report.ordered_by)}"
    if report.backfilled:
        text += (f"; {report.backfilled} commit(s) measured in a batch after newer ones (a backfill) are shown, "
                 "not judged")
    return text


def blind_text(report: Report) -> str:
    """The first line's warning when the newest run of a machine could mostly not be judged; "" otherwise."""
    return "; ".join(f"COULD NOT JUDGE the newest run on {c.text()}" for c in report.blind)


def news_text(report: Report) -> str:
    n = len(report.new_confirmed_regressions)
    if n:
        commits = len({f.commit for f in report.new_confirmed_regressions})
        return f"{n} new confirmed regression(s)" + (f" at {commits} commit(s)" if commits > 1 or n > 1 else "")
    # Quiet only when it looked: a blind night never reads "no new confirmed regression".
    return "no verdict (could not judge)" if report.blind else "no new confirmed regression"


def headline(report: Report) -> str:
    undecided = [r for r in report.run_wide if r.new]
    text = (f"{report.n_series} series over {report.n_commits} measured commits; " + news_text(report)
            + (f"; {len(undecided)} new run-wide change(s) undecided (code or machine)" if undecided else "")
            + (f"; {len(report.events)} machine event(s)" if report.events else ""))
    blind = blind_text(report)
    return f"{blind}. {text}" if blind else text


def coverage_lines(report: Report) -> list[str]:
    return [f"judged: {c.text()}" for c in report.coverage]


def run_wide_commit(r) -> str:
    return f"{r.range_start[:8]}..{r.commit[:8]}" if r.range_start else r.commit[:8]


def run_wide_what(r) -> str:
    worse = sum(f.kind == "regression" for f in r.flags)
    return (f"{len(r.flags)} series moved with it ({worse} slower), {r.moved} of {r.series} measured in the run; "
            + ("lasting (counts as a regression)" if r.lasting and r.kind == "regression" else
               "lasting" if r.lasting else "not yet past a transient")
            + f"; decide with `{r.command}`")


RUN_WIDE_TITLE = "Run-wide changes, undecided (most series of one run moved; no recorded change of the machine)"


def event_shift(e) -> str:
    text = f"{e.shift_pct:+.1f}%"
    if e.lasted is not None:
        text += f" for {e.lasted} run{'s' if e.lasted != 1 else ''}, then back"
    return text


def event_what(e) -> str:
    moved = f"{e.moved} of {e.series} series moved together (spread {e.spread_pct:.1f}%)"
    if e.facts:
        moved = f"machine changed: {e.facts}; " + moved
    return moved + (f"; {e.absorbed} change(s) judged part of it" if e.absorbed else "")


def table(report: Report, console: Console) -> None:
    console.print(("[bold red]" + escape(headline(report)) + "[/]") if report.blind else escape(headline(report)),
                  soft_wrap=True)
    console.print(order_text(report), soft_wrap=True)
    for line in coverage_lines(report):
        console.print(escape(line), soft_wrap=True, highlight=False)
    if report.run_wide:
        t = Table(title=RUN_WIDE_TITLE + ", newest first")
        for col in ("commit", "date", "machine", "shift", "what"):
            t.add_column(col, justify="right" if col == "shift" else "left", overflow="fold")
        for r in report.run_wide:
            t.add_row(run_wide_commit(r), r.date or "", escape(r.machine), f"{r.shift_pct:+.1f}%",
                      escape(run_wide_what(r)))
        console.print(t)
    if report.events:
        t = Table(title="Machine events (one run moved many series, or the machine changed), newest first")
        for col in ("machine", "run began", "commits", "shift", "what"):
            t.add_column(col, justify="right" if col == "shift" else "left", overflow="fold")
        for e in report.events:
            t.add_row(escape(e.machine), e.started or "", " ".join(c[:8] for c in e.commits), event_shift(e),
                      escape(event_what(e)))
        console.print(t)
    if report.benchmark_changes:
        console.print("Benchmark changed (asv's version of its code; judged apart before and after): "
                      + "; ".join(f"{escape(b.benchmark)} @ {escape(b.machine)} at {b.commit[:8]}"
                                  + (f" ({escape(b.versions)})" if b.versions else "")
                                  for b in report.benchmark_changes[:20])
                      + (f"; … {len(report.benchmark_changes) - 20} more" if len(report.benchmark_changes) > 20
                         else ""), soft_wrap=True)
    for title, flags in groups(report):
        if not flags:
            console.print(f"{title}: none")
            continue
        t = Table(title=f"{title}, newest first")
        for col in ("commit", "date", "subject", "benchmark", "parameters", "machine", "change", "before -> after",
                    "state", "note"):
            t.add_column(col, justify="right" if col == "change" else "left", overflow="fold")
        for f in flags:
            color = {"regression": "red", "improvement": "green"}.get(f.kind, "yellow")
            if f.state == "suspected":
                color = "yellow"
            t.add_row(commit_text(f), f.date or "", escape(f.subject), escape(f.benchmark), escape(f.params_text),
                      escape(f.machine), f"[{color}]{f.change_pct:+.1f}%[/]",
                      f"{level(f.before, f.unit)} -> {level(f.after, f.unit)}", state_text(f), escape(f.note))
        console.print(t)
    for p in report.problems[:10]:
        console.print(f"[yellow]skipped[/] {escape(p.path)}: {escape(p.reason)}", soft_wrap=True)
    if len(report.problems) > 10:
        console.print(f"… and {len(report.problems) - 10} more skipped (all of them with --format json)")


def _md(text: str) -> str:
    """Text from results files (untrusted: merged from other machines) made inert in a Markdown table cell: no
    column breaks, no HTML, no code-span breaks, no @mention or #N reference GitHub would act on."""
    return inert(text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")
                 .replace("`", "'").replace("\n", " "))


_ACTS = re.compile(r"([@#])(?=[\w-])|\b(GH)-(?=\d)", re.I)


def inert(text: str) -> str:
    """A commit subject as GitHub shows it without acting on it: a zero-width space after each ``@`` and ``#``
    that would notify someone or link an issue (``@team``, ``#12``, ``GH-12``)."""
    return _ACTS.sub(lambda m: (m.group(1) or m.group(2) + "-") + "\u200b", text)


def markdown(report: Report, site_url: str = "") -> str:
    news = f"**{news_text(report)}**"
    lines = ["## mdperf regressions", ""]
    if report.blind:
        lines += [f"> **{_md(blind_text(report))}.** Nothing below says the code is fine: the points were not "
                  "judged (a busy machine, failures or too short a history); measure again on a quiet runner.", ""]
    lines += [f"{report.n_series} series over {report.n_commits} measured commits; {news}"
              + (f" since `{report.since[:10]}`" if report.since else "") + ".", "", _md(order_text(report)) + ".",
              ""]
    lines += [f"- {_md(line)}" for line in coverage_lines(report)] + ([""] if report.coverage else [])
    if report.run_wide:
        lines += [f"### {RUN_WIDE_TITLE}", "", "| commit | date | machine | shift | what |",
                  "| --- | --- | --- | ---: | --- |"]
        lines += [f"| `{run_wide_commit(r)}` | {r.date or ''} | {_md(r.machine)} | {r.shift_pct:+.1f}% | "
                  f"{_md(run_wide_what(r))} |" for r in report.run_wide] + [""]
    if report.events:
        lines += ["### Machine events", "", "| machine | run began | commits | shift | what |",
                  "| --- | --- | --- | ---: | --- |"]
        lines += [f"| {_md(e.machine)} | {e.started or ''} | {' '.join(f'`{c[:8]}`' for c in e.commits)} | "
                  f"{event_shift(e)} | {_md(event_what(e))} |" for e in report.events] + [""]
    if report.benchmark_changes:
        lines += ["### Benchmark changed", "", "Judged apart before and after (asv's version of the benchmark changed).",
                  ""]
        lines += [f"- `{_md(b.benchmark)}` @ {_md(b.machine)} at `{b.commit[:8]}` ({b.series} series"
                  + (f"; {_md(b.versions)}" if b.versions else "") + ")"
                  for b in report.benchmark_changes] + [""]
    for title, flags in groups(report):
        lines += [f"### {title}", ""]
        if not flags:
            lines += ["None.", ""]
            continue
        lines += ["| commit | date | subject | benchmark | parameters | machine | change | before → after | state | note |",
                  "| --- | --- | --- | --- | --- | --- | ---: | --- | --- | --- |"]
        for f in flags:
            bench = f"[{_md(f.benchmark)}]({site_url}{f.graph})" if site_url else f"`{_md(f.benchmark)}`"
            lines.append(f"| `{commit_text(f)}` | {f.date or ''} | {_md(f.subject)} | {bench} | {_md(f.params_text)} | "
                         f"{_md(f.machine)} | {f.change_pct:+.1f}% | {level(f.before, f.unit)} → "
                         f"{level(f.after, f.unit)} | {state_text(f)} | {_md(f.note)} |")
        lines.append("")
    if report.problems:
        lines += ["### Skipped", ""] + [f"- `{_md(p.path)}`: {_md(p.reason)}" for p in report.problems] + [""]
    return "\n".join(lines)


def to_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=1)
