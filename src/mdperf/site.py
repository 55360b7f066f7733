"""mdperf's page on the asv site: every commit with its flags, linked from asv's front page.

``mdperf.html`` (static, no script: it renders from a file:// URL too) lists commits newest first with their
regressions (red), improvements (green), transients (grey) and suspected changes (amber), each linking to the
benchmark's asv graph; ``mdperf-flags.json`` beside it holds the same flags (the ``mdperf regressions --format
json`` schema).
"""

from __future__ import annotations

import html
from itertools import groupby
from pathlib import Path

from . import asvresults, site_marks
from .history import short_env
from .regressions.model import Flag, Report
from .regressions.report import (
    RUN_WIDE_TITLE,
    blind_text,
    coverage_lines,
    event_shift,
    event_what,
    headline,
    level,
    order_text,
    run_wide_commit,
    run_wide_what,
    state_text,
    to_json,
)
from .result import atomic_write_text

PAGE = "mdperf.html"
FLAGS_JSON = "mdperf-flags.json"
NAV_MARK = 'id="nav-li-mdperf"'

STYLE = """
body { font-family: sans-serif; margin: 1.5em; padding-top: 50px; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
td, th { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; }
tr.regression-confirmed td { background: #f8d0d0; }
tr.improvement-confirmed td { background: #d3f2d3; }
tr.suspected td { background: #fbe7b5; }
tr.transient-confirmed td { background: #e8e8e8; }
tr.rejected td { background: #f4f4f4; color: #777; }
h2 { margin-top: 1.2em; font-size: 1.1em; }
code { font-size: 0.95em; }
img.trend { display: block; }
#blind { background: #c0392b; color: #fff; padding: 0.6em 1em; font-weight: bold; }
tr.run-wide td { background: #fbe7b5; }
"""


def _row(f: Flag, image: str | None = None) -> str:
    cls = f"{f.kind}-{f.state}" if f.state == "confirmed" else f.state
    e = html.escape
    picture = (f'<img class="trend" src="{e(image)}" alt="the series around the change" width="252" '
               f'onload="this.setAttribute(\'data-loaded\', \'1\')">' if image else "")
    return (f'<tr class="{e(cls)}" data-commit="{e(f.commit)}" data-kind="{e(f.kind)}" data-state="{e(f.state)}">'
            f'<td><a href="index.html{e(f.graph)}">{e(f.benchmark)}</a></td>'
            f"<td>{e(f.params_text)}</td><td>{e(f.machine)}</td>"
            f"<td>{f.change_pct:+.1f}%</td><td>{e(level(f.before, f.unit))} → {e(level(f.after, f.unit))}</td>"
            f"<td>{e(state_text(f))}</td><td>{e(f.note)}</td><td>{picture}</td></tr>")


def _profile_html(rec: dict) -> str:
    """A commit's profile against its base (mdperf profile): what grew most, with its files."""
    e = html.escape
    c = rec["case"]
    links = " · ".join(f'<a href="{e(href)}">{e(what)}</a>' for what, href in rec.get("links", []))
    rows = "".join(
        f"<tr><td>{i}</td><td><code>{e(r['name'])}</code></td><td>{r['base_self_ms']:.3f} → {r['commit_self_ms']:.3f}</td>"
        f"<td>{r['self_growth_ms']:+.3f}</td><td>{'new' if r['self_growth_pct'] is None else format(r['self_growth_pct'], '+.0f') + '%'}</td>"
        f"<td>{r['self_growth_range_ms'][0]:+.3f}..{r['self_growth_range_ms'][1]:+.3f}</td>"
        f"<td>{'' if r['share_pct'] is None else format(r['share_pct'], '.0f') + '%'}</td></tr>"
        for i, r in enumerate(rec["rows"], 1))
    return (f'<div class="profile" data-commit="{e(rec["commit"])}"><p><b>Why (profile)</b>: '
            f"{e(c['calculator'])} at {c['atoms']} atoms on {e(c['device'])}, <code>{e(rec['commit'][:8])}</code> "
            f"against <code>{e(rec['base'][:8])}</code> on {e(rec['machine'])}, {rec['rounds']} rounds a side in "
            f"turns: the profiled step {rec['step_growth_pct']:+.1f}%. {links}</p>"
            f"<table><tr><th>#</th><th>{e(rec['kind'])}</th><th>self ms/step base → commit</th><th>+ms</th>"
            f"<th>self</th><th>range of rounds</th><th>share of growth</th></tr>{rows}</table></div>")


def render(report: Report, images: dict[int, str] | None = None, parity: list[dict] | None = None,
           profiles: dict[str, list[dict]] | None = None) -> str:
    """The page; ``images``: a flag's position in ``report.flags`` -> its trend picture, relative to the page;
    ``parity``: the accuracy cases' parity pictures of the newest commit measured (:func:`parity_images`);
    ``profiles``: by commit, its profiles against its base (:func:`profile_files`), beside its flags."""
    images = images or {}
    profiles = dict(profiles or {})
    index = {id(f): i for i, f in enumerate(report.flags)}
    subjects = {f.commit: f.subject for f in report.flags if f.subject}  # filled by analyse_results
    body = ["<h1>mdperf: changes commit by commit</h1>",
            f"<p>{html.escape(headline(report))}. "
            f'<a href="index.html">Back to the benchmarks</a> · <a href="{FLAGS_JSON}">flags as JSON</a></p>']
    if report.blind:  # said as loudly as a regression: the page's silence below is not health
        body.insert(0, f'<p id="blind">{html.escape(blind_text(report))}. Nothing on this page says the code is '
                       "fine: these points were not judged; measure again on a quiet runner.</p>")
    body.append(f"<p>{html.escape(order_text(report))}.</p>")
    if report.suite_versions:  # the suite's version says the CPU thread count each case declared
        body.append('<p id="suite-versions">Measured as: ' + "; ".join(
            f"{html.escape(m)}: " + ", ".join(f"<code>{html.escape(v)}</code>" for v in vs)
            for m, vs in report.suite_versions.items()) + " (mdperf's suite version and the CPU threads per case)</p>")
    if report.coverage:
        body.append('<ul id="coverage">' + "".join(f"<li>{html.escape(line)}</li>" for line in coverage_lines(report))
                    + "</ul>")
    if report.run_wide:
        body.append(f'<h2 id="run-wide">{html.escape(RUN_WIDE_TITLE)}</h2>'
                    "<table><tr><th>commit</th><th>date</th><th>machine</th><th>shift</th><th>what</th></tr>")
        body.extend(f'<tr class="run-wide" data-commit="{html.escape(r.commit)}"><td><code>'
                    f"{html.escape(run_wide_commit(r))}</code></td><td>{html.escape(r.date or '')}</td>"
                    f"<td>{html.escape(r.machine)}</td><td>{r.shift_pct:+.1f}%</td>"
                    f"<td>{html.escape(run_wide_what(r))}</td></tr>" for r in report.run_wide)
        body.append("</table>")
    if report.flags:
        newest = report.flags[0]
        body.append(f'<p id="latest">Newest flagged commit, with a picture of each series around its change: '
                    f'<a href="#commit-{html.escape(newest.commit)}"><code>{html.escape(newest.commit[:8])}</code></a>'
                    f"{' ' + html.escape(newest.date) if newest.date else ''}.</p>")
    if report.events:
        body.append('<h2 id="machine-events">Machine events</h2><p>One run moved many series together, or the machine '
                    "changed: reported once here, not as regressions of each series.</p>"
                    "<table><tr><th>machine</th><th>run began</th><th>commits</th><th>shift</th><th>what</th></tr>")
        body.extend(f'<tr class="event"><td>{html.escape(ev.machine + (" / " + short_env(ev.env) if ev.env else ""))}</td>'
                    f"<td>{html.escape(ev.started or '')}</td>"
                    f"<td><code>{html.escape(' '.join(c[:8] for c in ev.commits))}</code></td>"
                    f"<td>{html.escape(event_shift(ev))}</td><td>{html.escape(event_what(ev))}</td></tr>"
                    for ev in report.events)
        body.append("</table>")
    if report.benchmark_changes:
        body.append('<h2 id="benchmark-changes">Benchmark changed</h2><p>asv\'s version of the benchmark (its code) '
                    "changed: the results before and after are judged apart.</p><ul>")
        body.extend(f"<li><code>{html.escape(b.benchmark)}</code> on {html.escape(b.machine)} at "
                    f"<code>{html.escape(b.commit[:8])}</code> ({b.series} series"
                    + (f"; <code>{html.escape(b.versions)}</code>" if b.versions else "") + ")</li>"
                    for b in report.benchmark_changes)
        body.append("</ul>")
    if not report.flags:
        body.append('<p id="no-flags">' + ("Nothing could be judged, so nothing is flagged." if report.blind else
                                           "No regressions or improvements flagged.") + "</p>")
    for commit, group in groupby(report.flags, key=lambda f: f.commit):
        flags = list(group)
        start = flags[0].range_start
        title = f"{start[:8]}..{commit[:8]}" if start else commit[:8]
        subject = html.escape(subjects.get(commit, ""))
        date = f' <small>{html.escape(flags[0].date)}</small>' if flags[0].date else ""
        body.append(f'<h2 id="commit-{html.escape(commit)}"><code>{html.escape(title)}</code> {subject}{date}</h2>')
        body.append("<table><tr><th>benchmark</th><th>parameters</th><th>machine</th><th>change</th>"
                    "<th>before → after</th><th>state</th><th>note</th><th>series</th></tr>")
        body.extend(_row(f, images.get(index[id(f)])) for f in flags)
        body.append("</table>")
        body.extend(_profile_html(rec) for rec in profiles.pop(commit, []))
    if profiles:  # profiled by hand, at commits with no flag on this page
        body.append('<h2 id="profiles">Profiles of other commits</h2>')
        body.extend(_profile_html(rec) for recs in profiles.values() for rec in recs)
    if parity:
        body.append('<h2 id="accuracy">Accuracy against the reference, newest commit measured</h2><p>Each '
                    "calculator's forces against the reference's on the case's fixed frames (the Accuracy series "
                    "track their errors commit by commit).</p>")
        body.extend(f'<figure class="parity" data-commit="{html.escape(x["commit"])}"><img src="{html.escape(x["src"])}" '
                    f'alt="predicted against reference forces" width="300"><figcaption>{html.escape(x["case"])} on '
                    f'{html.escape(x["machine"])} at <code>{html.escape(x["commit"][:8])}</code> against '
                    f'{html.escape(x["reference"])}</figcaption></figure>' for x in parity)
    if report.problems:
        body.append(f"<details><summary>{len(report.problems)} series or files skipped</summary><ul>")
        body.extend(f"<li><code>{html.escape(p.path)}</code>: {html.escape(p.reason)}</li>" for p in report.problems)
        body.append("</ul></details>")
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>mdperf changes</title>"
            f"<link rel=\"icon\" href=\"swallow.ico\">\n{BOOTSTRAP_CSS}\n"
            f"<link href=\"asv.css\" rel=\"stylesheet\" type=\"text/css\"/><style>{STYLE}</style></head><body>\n"
            + NAVBAR + "\n".join(body) + "\n</body></html>\n")


# asv's own stylesheet tag (mdperf.offline points it into the site, as it does asv's) and navigation bar, so the
# page reads as one of the site's.
BOOTSTRAP_CSS = ('<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/bootstrap@3.1.1/dist/css/bootstrap.min.css" '
                 'integrity="sha256-6VA0SGkrc43SYPvX98q/LhHwm2APqX5us6Vuulsafps=" crossorigin="anonymous">')
NAVBAR = """<nav id="nav" class="navbar navbar-left navbar-default navbar-fixed-top" role="navigation">
<ul class="nav navbar-nav navbar-left">
<li><p class="navbar-text"><img src="swallow.png" width="22" height="22" alt="swallow"> airspeed velocity</p></li>
<li><a href="index.html#/">Benchmark grid</a></li>
<li><a href="index.html#/summarylist">Benchmark list</a></li>
<li><a href="index.html#/regressions">Regressions</a></li>
<li class="active" id="nav-li-mdperf"><a href="mdperf.html">mdperf changes</a></li>
</ul></nav>
"""


TRENDS = "mdperf-trends"  # the flags' pictures, beside the page
MAX_TRENDS = 100  # the newest flags get a picture; drawing is ~0.1 s each


def trend_images(html_dir: Path, report: Report) -> dict[int, str]:
    """A small PNG per flag (the newest MAX_TRENDS): the series around it, the change point, both levels.
    Without matplotlib (the plot extra), none: the page says the numbers."""
    import shutil

    from . import figures

    if not figures.available():  # no matplotlib: a page without pictures, never a failed publish
        return {}
    folder = html_dir / TRENDS
    shutil.rmtree(folder, ignore_errors=True)
    out: dict[int, str] = {}
    for i, f in enumerate(report.flags[:MAX_TRENDS]):
        if not f.trend or len(f.trend[0]) < 2:
            continue
        values, at, level_end, level_start = f.trend
        figures.trend_figure(values, at, f.before, f.after, folder, f"flag-{i}", unit=f.unit, start=level_start,
                             end=level_end, noisy=f.noisy_points,
                             title=f"{f.change_pct:+.1f}% at {f.commit[:8]}", formats=("png",))
        out[i] = f"{TRENDS}/flag-{i}.png"
    return out


PARITY = "mdperf-parity"  # the accuracy cases' parity pictures, beside the page


def parity_images(html_dir: Path, results_dir: Path | None, order: list[str]) -> list[dict]:
    """A parity PNG per machine and accuracy case, of the newest commit (in ``order``, oldest first) in the
    machine's parity file (the suite writes it: :data:`mdperf.suite.config.PARITY_FILE`).  Unreadable lines are
    left out; without matplotlib or a file, none."""
    import shutil

    from . import figures
    from .suite.config import PARITY_FILE

    folder = html_dir / PARITY
    shutil.rmtree(folder, ignore_errors=True)
    if results_dir is None or not figures.available():
        return []
    rank = {c: i for i, c in enumerate(order)}
    newest: dict[tuple[str, str], dict] = {}
    for machine, x in asvresults.machine_lines(results_dir, PARITY_FILE):
        try:
            k, r = (machine, str(x["case"])), rank.get(str(x["commit"]), -1)
            if len(x["reference"]) and len(x["predicted"]) and r >= rank.get(str(newest.get(k, {}).get("commit")), -2):
                newest[k] = dict(x, machine=machine)
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
    out = []
    for n, ((machine, case), x) in enumerate(sorted(newest.items())):
        figures.parity_figure(x["reference"], x["predicted"], folder, f"parity-{n}", formats=("png",),
                              title=f"{case.replace('|', ', ')} at {str(x['commit'])[:8]}")
        out.append({"machine": machine, "case": case.replace("|", ", "), "commit": str(x["commit"]),
                    "reference": str(x.get("reference_calculator", "")), "src": f"{PARITY}/parity-{n}.png"})
    return out


PROFILES = "mdperf-profiles"  # the profiles' files, beside the page


def profile_files(html_dir: Path, results_dir: Path | None) -> dict[str, list[dict]]:
    """Every machine's saved profiles (mdperf profile), by commit, their record and traces copied beside the page
    (each record with ``links``: what a person opens)."""
    import shutil

    from . import profiling

    folder = html_dir / PROFILES
    shutil.rmtree(folder, ignore_errors=True)
    if results_dir is None:
        return {}
    out: dict[str, list[dict]] = {}
    for commit, recs in profiling.load(Path(results_dir)).items():
        for rec in recs:
            src = Path(results_dir) / rec["machine"]
            dest = folder / rec["machine"]
            links = []
            for what, rel in [("profile (JSON)", rec["file"]), ("base trace", rec["traces"]["base"]),
                              ("commit trace", rec["traces"]["commit"])]:
                if (src / rel).is_file():
                    (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(src / rel, dest / rel)
                    links.append((what, f"{PROFILES}/{rec['machine']}/{rel}"))
            out.setdefault(commit, []).append(dict(rec, links=links))
    return out


GUARD_NAME = "machine guard, not a metric: "  # how the guard's series are named on asv's pages


def _has_value(points: object) -> bool:
    """A graph file's points ([revision, value or [values per parameter]]) hold a finite number."""
    import math

    for point in points if isinstance(points, list) else []:
        value = point[1] if isinstance(point, list) and len(point) >= 2 else None
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                return True
    return False


def tidy_index(html_dir: Path) -> list[str]:
    """asv's pages without the benchmarks no case of which has a value (the GPU metrics on a CPU-only machine),
    and with the guard's series after the metrics, named as the machine's records; the hidden benchmarks."""
    import json

    from .regressions.coverage import GUARD

    path = html_dir / "index.json"
    data = json.loads(path.read_text())
    benches = data.get("benchmarks", {})
    measured: set[str] = set()
    for f in (html_dir / "graphs").rglob("*.json"):
        if f.stem in benches and f.stem not in measured and _has_value(json.loads(f.read_text())):
            measured.add(f.stem)
    if not measured:  # nothing measured yet: asv's page as it is, every benchmark listed
        return []
    ordered = {k: v for k, v in benches.items() if k in measured and GUARD not in k}
    ordered.update({k: dict(v, pretty_name=GUARD_NAME + k.rsplit(".", 1)[-1])
                    for k, v in benches.items() if k in measured and GUARD in k})
    data["benchmarks"] = ordered
    atomic_write_text(path, json.dumps(data))
    return sorted(set(benches) - measured)


def write(html_dir: Path, report: Report, results_dir: Path | None = None, order: list[str] | None = None) -> Path:
    """Write the page, its pictures and its JSON into the published site and link the page from asv's
    navigation bar; with ``results_dir`` and the commits' ``order``, the newest parity pictures too."""
    page = html_dir / PAGE
    atomic_write_text(html_dir / FLAGS_JSON, to_json(report))
    atomic_write_text(page, render(report, trend_images(html_dir, report),
                                   parity_images(html_dir, results_dir, order or []),
                                   profile_files(html_dir, results_dir)))
    tidy_index(html_dir)
    site_marks.write(html_dir)  # the guard's marks on asv's own graphs
    index = html_dir / "index.html"
    text = index.read_text()
    if NAV_MARK not in text:
        anchor = '<li id="nav-li-regressions">'
        link = f'<li {NAV_MARK}><a href="{PAGE}">mdperf changes</a></li>\n\t'
        text = text.replace(anchor, link + anchor, 1) if anchor in text else text.replace(
            "<body>", f'<body><p><a href="{PAGE}">mdperf changes</a></p>', 1)
        atomic_write_text(index, text)
    return page
