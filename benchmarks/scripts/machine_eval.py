"""The machine's changes told from the code's, on real asv histories (../shared/field-data or --field).

    python benchmarks/scripts/machine_eval.py [--field DIR] [--out FILE]

For each project: the report without environment events (``events.min_series`` out of reach) and with them:
confirmed regressions and improvements, flags on runs that carry 10 or more of them (clusters), machine
events per machine and the changes they took in, benchmark version changes and flags resting on one, and the
order used.  For Django, the labelled sample of 50 confirmed regressions (benchmarks/eval/labels/): how many
are still reported, and the share a person looking at the series called real.  Writes
docs/results/machine-eval.md (and .json).
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import datetime
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from mdperf import history  # noqa: E402
from mdperf.regressions import analyse  # noqa: E402
from mdperf.regressions.config import RegressionConfig  # noqa: E402
from mdperf.result import atomic_write_text  # noqa: E402

LABELS = ROOT / "benchmarks" / "eval" / "labels" / "django-regressions.json"


def summary(rep) -> dict:
    conf = [f for f in rep.flags if f.state == "confirmed"]
    per_run = collections.Counter((f.machine, f.commit) for f in conf)
    changed = {(b.benchmark, b.machine, b.commit) for b in rep.benchmark_changes}
    return {
        "confirmed_regressions": sum(f.kind == "regression" for f in conf),
        "confirmed_improvements": sum(f.kind == "improvement" for f in conf),
        "transients": sum(f.kind == "transient" for f in conf),
        "flags_in_clusters_of_10": sum(n for n in per_run.values() if n >= 10),
        "clusters_of_10": sum(1 for n in per_run.values() if n >= 10),
        "events": dict(collections.Counter(f"{e.machine}{' / ' + e.env if e.env else ''}" for e in rep.events)),
        "events_total": len(rep.events),
        "changes_taken_in_by_events": sum(e.absorbed for e in rep.events),
        "flags_standing_out_of_an_event": sum(f.note.startswith("stands out") for f in conf),
        "run_wide_undecided": len(rep.run_wide),
        "flags_held_by_run_wide": sum(len(r.flags) for r in rep.run_wide),
        "benchmark_version_changes": len(rep.benchmark_changes),
        "flags_on_a_version_change": sum((f.benchmark, f.machine, f.commit) in changed for f in rep.flags),
        "ordered_by": rep.ordered_by,
        "backfilled_commits": rep.backfilled,
    }


def labelled(rep) -> dict:
    data = json.loads(LABELS.read_text())
    flagged = {(f.commit, f.benchmark, json.dumps(f.params, sort_keys=True), f.machine, f.env)
               for f in rep.flags if f.kind == "regression" and f.state == "confirmed"}
    rows = data["flags"]
    still = [r for r in rows if (r["commit"], r["benchmark"], json.dumps(r["params"], sort_keys=True), r["machine"],
                                 r["env"]) in flagged]
    real = [r for r in still if r["label"] == "real"]
    why = collections.Counter(r["why"] for r in still if r["label"] != "real")
    return {"labelled": len(rows), "still_reported": len(still), "real": len(real),
            "real_share": len(real) / max(len(still), 1), "not_real_because": dict(why)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--field", default=str(ROOT.parent / "shared" / "field-data"))
    ap.add_argument("--out", default=str(ROOT / "docs" / "results" / "machine-eval.md"))
    args = ap.parse_args()
    field = Path(args.field)
    t0 = time.perf_counter()
    out: dict = {"date": datetime.date.today().isoformat(), "projects": {}}
    off = RegressionConfig()
    off.events = dataclasses.replace(off.events, min_series=10**9)
    for project in sorted(p.name for p in field.iterdir() if (p / "results").is_dir()):
        h = history.read(field / project / "results")
        print(f"{project}: {len(h.series)} series, {len(h.measured)} commits", flush=True)
        with_events = analyse(h)
        without = analyse(history.read(field / project / "results"), off)
        entry = {"series": len(h.series), "commits": len(h.measured), "machines": sorted(h.runs),
                 "runs": {m: len(r) for m, r in h.runs.items()},
                 "without_events": summary(without), "with_events": summary(with_events)}
        if project == "django" and LABELS.exists():
            entry["labelled_sample"] = labelled(with_events)
        out["projects"][project] = entry
    out["seconds"] = round(time.perf_counter() - t0, 1)
    Path(args.out).with_suffix(".json").write_text(json.dumps(out, indent=1))
    atomic_write_text(Path(args.out), render(out))
    print(f"wrote {args.out} in {out['seconds']} s")


ROWS = [("confirmed regressions", "confirmed_regressions"), ("confirmed improvements", "confirmed_improvements"),
        ("transients", "transients"), ("flags on runs carrying >= 10 of them", "flags_in_clusters_of_10"),
        ("such runs", "clusters_of_10"), ("machine events", "events_total"),
        ("changes taken in by an event", "changes_taken_in_by_events"),
        ("flags standing out of an event (reported, with a note)", "flags_standing_out_of_an_event"),
        ("run-wide changes, undecided (no machine facts; reported once per commit)", "run_wide_undecided"),
        ("flags they hold (their series)", "flags_held_by_run_wide"),
        ("benchmark version changes", "benchmark_version_changes"),
        ("flags on a version change", "flags_on_a_version_change"), ("order", "ordered_by"),
        ("backfilled commits (shown, not judged)", "backfilled_commits")]


def render(out: dict) -> str:
    lines = ["# Machine events, benchmark versions and run order on field histories", "",
             f"Generated {out['date']} by `python benchmarks/scripts/machine_eval.py` ({out['seconds']} s on 2 cores), "
             "over `../shared/field-data/*/results` read without the repository (so in run-time order). Method: "
             "[design/events.md](../design/events.md).", ""]
    for name, p in out["projects"].items():
        lines += [f"## {name}: {p['series']} series, {p['commits']} commits, machines "
                  + ", ".join(f"{m} ({p['runs'][m]} runs)" for m in p["machines"]), "",
                  "| | without events | with events |", "| --- | ---: | ---: |"]
        for label, key in ROWS:
            lines.append(f"| {label} | {p['without_events'][key]} | {p['with_events'][key]} |")
        ev = p["with_events"]["events"]
        if ev:
            lines += ["", "Events by machine (and environment): " + ", ".join(f"{k}: {v}" for k, v in ev.items()) + "."]
        lab = p.get("labelled_sample")
        if lab:
            lines += ["", f"Labelled sample (`benchmarks/eval/labels/django-regressions.json`): {lab['labelled']} "
                      f"confirmed regressions drawn at random, labelled by looking at each series; "
                      f"{lab['still_reported']} still reported, of which **{lab['real']} real "
                      f"({100 * lab['real_share']:.0f} %)**. Not real: "
                      + ", ".join(f"{why} ({n})" for why, n in lab["not_real_because"].items()) + "."]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
