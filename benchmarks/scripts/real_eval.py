"""Labelled steps of real asv histories: mdperf beside asv's step detection, timed and untimed.

    python benchmarks/scripts/real_eval.py [--field ../shared/field-data] [--out docs/results]

Labels (benchmarks/eval/labels/<project>-steps.json) were made by looking at plotted series before running the
detector (how: the file's ``how``).  For each project the results folder is read as ``mdperf regressions``
reads it (no repository: run-time order) and once more from a copy with every run time stripped (asv's old
format: the untimed shape, placed by commit date).  A labelled step is *found* by mdperf when the report holds a
regression or improvement (confirmed, or to watch; on its own or within a run-wide change) within 1 commit of
it in that series; by asv when a boundary of ``asv.step_detect.detect_steps`` lies within 1 commit.  *Other
changes*: flags or boundaries on the labelled sample's series more than 1 commit from any label (a series of the
sample without a label has none).  Writes ``real-eval.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from asv.step_detect import detect_steps

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from mdperf import history  # noqa: E402
from mdperf.regressions import analyse  # noqa: E402
from mdperf.result import atomic_write_text  # noqa: E402

LABELS = ROOT / "benchmarks" / "eval" / "labels"


def strip_run_times(src: Path, dst: Path) -> None:
    """A copy of an asv results folder with no run times (format 2: the started_at column; format 1: the
    per-benchmark started_at/ended_at)."""
    shutil.copytree(src, dst)
    for f in dst.glob("*/*.json"):
        if f.name in ("machine.json",):
            continue
        try:
            data = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict) or "results" not in data:
            continue
        cols = data.get("result_columns")
        if cols and "started_at" in cols:
            k = cols.index("started_at")
            for row in data["results"].values():
                if isinstance(row, list) and len(row) > k:
                    row[k] = None
        for key in ("started_at", "ended_at"):
            data.pop(key, None)
        f.write_text(json.dumps(data))


def near(i: int, labels: list[int]) -> bool:
    return any(abs(i - j) <= 1 for j in labels)


def score(hist, labels: dict[str, list[str]], sample: list[str]) -> dict:
    rep = analyse(hist)
    by_key = {s.key: s for s in hist.series}
    flags: dict[str, list[str]] = {}
    for f in rep.flags:
        if f.kind in ("regression", "improvement") and f.state in ("confirmed", "suspected"):
            flags.setdefault(f.series, []).append(f.commit)
    out = {m: {"found": 0, "steps": 0, "other": 0} for m in ("mdperf", "asv steps")}
    for key in sample:
        s = by_key.get(key)
        if s is None:
            continue
        pos = {c: i for i, c in enumerate(s.commits)}
        want = [pos[c] for c in labels.get(key, []) if c in pos]
        found = {"mdperf": [pos[c] for c in flags.get(key, []) if c in pos],
                 "asv steps": [b[0] for b in detect_steps(list(map(float, s.values)))[1:]]}
        for m, got in found.items():
            out[m]["steps"] += len(want)
            out[m]["found"] += sum(near(j, got) for j in want)
            out[m]["other"] += sum(not near(i, want) for i in got)
    out["ordered_by"] = hist.ordered_by
    out["events"] = len(rep.events)
    out["run_wide"] = len(rep.run_wide)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--field", default=str(ROOT.parent / "shared" / "field-data"))
    ap.add_argument("--out", default=str(ROOT / "docs" / "results"))
    args = ap.parse_args()
    t0 = time.time()
    rows = []
    for lab in sorted(LABELS.glob("*-steps.json")):
        data = json.loads(lab.read_text())
        src = Path(args.field) / data["project"] / "results"
        if not src.is_dir():
            print(f"{data['project']}: no results under {src}; skipped")
            continue
        timed = score(history.read(src), data["steps"], data["sample"])
        with tempfile.TemporaryDirectory() as tmp:
            strip_run_times(src, Path(tmp) / "results")
            untimed = score(history.read(Path(tmp) / "results"), data["steps"], data["sample"])
        for shape, r in (("timed", timed), ("untimed", untimed)):
            rows.append({"project": data["project"], "shape": shape, "series": len(data["sample"]),
                         "labelled_series": len(data["steps"]), **r})
            print(rows[-1], flush=True)
    out = Path(args.out)
    atomic_write_text(out / "real-eval.json", json.dumps({"rows": rows}, indent=1))
    lines = ["# Labelled steps of real histories: mdperf and asv's step detection", "",
             f"`python benchmarks/scripts/real_eval.py` ({time.strftime('%Y-%m-%d')}, {time.time() - t0:.0f} s). "
             "Labels by looking, before the detector ran (benchmarks/eval/labels/*-steps.json, their `how`); method in "
             "the script's docstring. *untimed*: the same results with every run time stripped (placed by commit "
             "date).", "",
             "| project | shape | order | series (labelled) | steps found within 1 commit: mdperf | asv steps | "
             "other changes: mdperf | asv steps |", "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        m, a = r["mdperf"], r["asv steps"]
        lines.append(f"| {r['project']} | {r['shape']} | {r['ordered_by']} | {r['series']} ({r['labelled_series']}) | "
                     f"{m['found']} / {m['steps']} | {a['found']} / {a['steps']} | {m['other']} | {a['other']} |")
    atomic_write_text(out / "real-eval.md", "\n".join(lines) + "\n")
    print(f"wrote {out / 'real-eval.md'}")


if __name__ == "__main__":
    main()
