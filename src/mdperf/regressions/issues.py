"""The texts of the issues a nightly opens: one per commit with newly confirmed regressions, and a comment when
the series it named are back at their level.

``write`` puts them in a folder for the workflow to hand to ``gh``: ``regression-<commit>.title`` and
``regression-<commit>.md`` (open an issue, or comment on the open one that names the commit), and
``fixed-<commit>.md`` (comment), with ``fixed-<commit>.close`` when every series the issue named is back.  A
regression is in an issue once: it is new only in the run that first confirms it (:mod:`.record`); a fix is
said once too, marked in the same record.  The body names the commit in full, which is what the workflow
searches open issues for.
"""

from __future__ import annotations

from itertools import groupby
from pathlib import Path

from ..result import atomic_write_text
from .model import Flag, Report
from .record import Record
from .report import _md, coverage_lines, inert, level

LABEL = "mdperf-regression"


def _link(f: Flag, site_url: str) -> str:
    return f"[{_md(f.benchmark)}]({site_url}{f.graph})" if site_url else f"`{_md(f.benchmark)}`"


def regression_text(commit: str, flags: list[Flag], site_url: str = "", coverage: list[str] | None = None,
                    profiles: list[dict] | None = None) -> tuple[str, str]:
    """(title, Markdown body) of the issue for ``commit``'s new confirmed regressions; ``coverage``: the
    report's lines of how much of each machine's newest run was judged; ``profiles``: the commit's profiles
    against its base (mdperf profile), what grew most in each."""
    from ..profiling import markdown as profile_markdown

    f0 = flags[0]
    worst = max(flags, key=lambda f: abs(f.change_pct))
    title = (f"Performance regression at {commit[:8]}"
             + (f": {inert(f0.subject[:60])}" if f0.subject else "")
             + f" ({len(flags)} series, up to {worst.change_pct:+.1f}%)")
    where = f"commits `{f0.range_start}`..`{commit}`" if f0.range_start else f"commit `{commit}`"
    lines = [f"mdperf confirmed a performance regression at {where}"
             + (f" ({f0.date} UTC" + (f", {_md(f0.subject)})" if f0.subject else ")") if f0.date else "")
             + ".", "",
             "| benchmark | parameters | machine | change | before → after |",
             "| --- | --- | --- | ---: | --- |"]
    lines += [f"| {_link(f, site_url)} | {_md(f.params_text)} | {_md(f.machine)} | {f.change_pct:+.1f}% | "
              f"{level(f.before, f.unit)} → {level(f.after, f.unit)} |" for f in flags]
    run_wide = [f for f in flags if f.run_wide == "undecided"]
    if run_wide:
        lines += ["", f"{len(run_wide)} of these series moved with most series of the same run, and no change of "
                  f"the machine was recorded: `mdperf confirm {commit[:10]} --machine {_md(f0.machine)}` re-measures "
                  "the commit against its base and decides whether the code or the machine did it."]
    lines += ["", "Before and after are the medians of the commits measured on each side. "
              "This issue gets a comment when these series are back at their level."
              + (f" All changes: {site_url}mdperf.html" if site_url else ""), ""]
    for rec in profiles or []:  # why: what grew most from the base, and where the whole profile is
        link = f"{site_url}mdperf.html#commit-{commit}" if site_url else f"{rec['machine']}/{rec['file']}"
        lines += profile_markdown(rec, link) + [""]
    if coverage:
        lines += [f"- {_md(line)}" for line in coverage] + [""]
    return title, "\n".join(lines)


def fixes(report: Report, record: Record) -> list[tuple[Flag, Flag]]:
    """(reported regression, the confirmed improvement that undid it) for each recorded, not yet fixed
    regression whose series came back at least halfway to its earlier level."""
    regressions = {(f.series, f.commit): f for f in report.flags if f.kind == "regression" and f.state == "confirmed"}
    out = []
    for series, entries in record.entries.items():
        for e in entries:
            reg = regressions.get((series, e["commit"]))
            if e.get("fixed") or reg is None:
                continue
            later = [f for f in report.flags if f.series == series and f.kind == "improvement"
                     and f.state == "confirmed" and f.position > reg.position]
            back = [f for f in later if abs(f.after - reg.before) <= abs(reg.after - reg.before) / 2]
            if back:
                out.append((reg, min(back, key=lambda f: f.position)))
    return out


def fixed_text(commit: str, pairs: list[tuple[Flag, Flag]], all_back: bool, site_url: str = "") -> str:
    lines = [f"These series of the regression at `{commit}` are back at their level:", "",
             "| benchmark | parameters | machine | fixed at | before → regressed → now |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| {_link(reg, site_url)} | {_md(reg.params_text)} | {_md(reg.machine)} | `{fix.commit[:8]}` "
              f"{_md(fix.subject)} | {level(reg.before, reg.unit)} → {level(reg.after, reg.unit)} → "
              f"{level(fix.after, fix.unit)} |" for reg, fix in pairs]
    lines += ["", "Every series this issue named is back: closing it." if all_back else
              "Other series of this issue are still slower.", ""]
    return "\n".join(lines)


def write(out: Path, report: Report, record: Record | None, site_url: str = "",
          profiles: dict[str, list[dict]] | None = None) -> list[Path]:
    """The issue files for this run's new confirmed regressions and for reported ones now fixed; the files.
    ``profiles``: by commit, its saved profiles (:func:`mdperf.profiling.load`), shown in its issue."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    new = sorted(report.new_confirmed_regressions, key=lambda f: (-f.position, f.series))
    for commit, flags in groupby(new, key=lambda f: f.commit):
        title, body = regression_text(commit, list(flags), site_url, coverage_lines(report),
                                      (profiles or {}).get(commit))
        for suffix, text in ((".title", title + "\n"), (".md", body)):
            atomic_write_text(out / f"regression-{commit}{suffix}", text)
            written.append(out / f"regression-{commit}{suffix}")
    if record is None:
        return written
    pairs = sorted(fixes(report, record), key=lambda p: (p[0].commit, p[0].series))
    for commit, group in groupby(pairs, key=lambda p: p[0].commit):
        members = list(group)
        for reg, fix in members:
            record.mark_fixed(reg.series, reg.commit, fix.commit)
        named = [s for s, entries in record.entries.items() if any(e["commit"] == commit for e in entries)]
        all_back = all(e.get("fixed") for s in named for e in record.entries[s] if e["commit"] == commit)
        atomic_write_text(out / f"fixed-{commit}.md", fixed_text(commit, members, all_back, site_url))
        written.append(out / f"fixed-{commit}.md")
        if all_back:
            atomic_write_text(out / f"fixed-{commit}.close", "")
            written.append(out / f"fixed-{commit}.close")
    record.save()
    return written
