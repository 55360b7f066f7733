"""Evaluate mdperf's change detector against asv's own step detection on synthetic histories.

    python benchmarks/scripts/detector_eval.py [--histories N] [--quick]

Writes docs/regressions-eval.md (and .json).  Histories: 150 commits; noise of three kinds (Gaussian with
heavy-tailed slow outliers, bimodal clock states, AR(1)) at coefficients of variation 0.5-5 %; one step of
1-20 % at a random commit; pairs of close steps; and negatives (clean, reverting +15 % spikes, slow 5 % ramps).

Methods, each asked for regressions (upward steps):
* mdperf: confirmed regressions of ``mdperf.regressions.detect`` with its defaults.
* asv 5 % floor: boundaries of ``asv.step_detect.detect_steps`` segments rising by >= 5 % (asv's default
  regression threshold, as its Regressions page applies it).
* asv steps: the same with no floor (asv's step detection at its most sensitive).

Recall and exact attribution are scored on the whole history (a found step within 3 commits of the truth);
delay runs each detector on growing prefixes, as a nightly tracker sees the history, and counts the commits
after the step it needed (capped at 10).  False alarms are reported changes away from every true step, per
1,000 such commits: on the finished history, and nightly (every prefix, each alarm counted once even if a
later prefix withdraws it: that alarm already cost a maintainer a morning).
"""

from __future__ import annotations

import argparse
import datetime
import json
import multiprocessing
import time
from pathlib import Path

import numpy as np
from asv.step_detect import detect_steps

from mdperf.regressions import datasets as D
from mdperf.regressions.detector import detect
from mdperf.regressions.scoring import Score, online_false_alarms, score
from mdperf.result import atomic_write_text

ROOT = Path(__file__).resolve().parents[2]
N = 150
CVS = (0.005, 0.01, 0.02, 0.05)
STEPS = (0.01, 0.02, 0.03, 0.05, 0.10, 0.20)


def mdperf_detector(v: np.ndarray) -> list[int]:
    return [c.index for c in detect(v) if c.kind == "regression" and c.state == "confirmed"]


_ASV_STEPS: dict[bytes, list] = {}


def _asv_steps(v: np.ndarray) -> list:
    # Both asv variants read the same segmentation; the online count asks for every prefix of a history.
    key = np.asarray(v, dtype=float).tobytes()
    if key not in _ASV_STEPS:
        if len(_ASV_STEPS) > 4096:
            _ASV_STEPS.clear()
        _ASV_STEPS[key] = detect_steps(list(map(float, v)))
    return _ASV_STEPS[key]


def asv_detector(floor: float):
    def run(v: np.ndarray) -> list[int]:
        steps = _asv_steps(v)
        return [b[0] for a, b in zip(steps, steps[1:]) if b[2] > a[2] * (1 + floor)]
    return run


METHODS = {"mdperf": mdperf_detector, "asv 5 % floor": asv_detector(0.05), "asv steps": asv_detector(0.0)}


def _score_all(histories: list, online: bool) -> dict[str, Score]:
    out = {}
    for name, det in METHODS.items():
        total = Score()
        for h in histories:
            total.add(score(h, det, online=online))
        out[name] = total
    return out


def _cell(args: tuple) -> dict:
    kind, cv, rel, histories, seed = args
    rng = np.random.default_rng(seed)
    hs = [D.random_step_history(N, cv, kind, rel, rng) for _ in range(histories)]
    return {"kind": kind, "cv": cv, "rel": rel, "scores": _score_all(hs, online=True)}


def _negatives(args: tuple) -> dict:
    kind, cv, histories, online_histories, seed = args
    rng = np.random.default_rng(seed)
    hs = []
    for _ in range(histories):
        hs += [D.with_steps(N, cv, kind, [], rng), D.spike_history(N, cv, kind, 0.15, rng),
               D.ramp_history(N, cv, kind, 0.05, rng)]
    scores = _score_all(hs, online=False)
    # Online: every prefix, as nightly runs see the history grow (costly: on the first histories only).
    for name, det in METHODS.items():
        for h in hs[: 3 * online_histories]:
            fa, commits = online_false_alarms(h, det)
            scores[name].online_false_alarms += fa
            scores[name].online_commits += commits
    return {"kind": kind, "cv": cv, "scores": scores}


def _pairs(args: tuple) -> dict:
    kind, gap, histories, seed = args
    rng = np.random.default_rng(seed)
    hs = [D.close_pair_history(N, 0.01, kind, 0.05, gap, rng) for _ in range(histories)]
    return {"kind": kind, "gap": gap, "scores": _score_all(hs, online=False)}


def fmt(x: float, pct: bool = True) -> str:
    if x != x:
        return "—"
    return f"{100 * x:.0f} %" if pct else f"{x:.2f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--histories", type=int, default=20, help="histories per cell")
    ap.add_argument("--online-histories", type=int, default=10,
                    help="histories per negative cell and kind also scored online (every prefix)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "docs" / "regressions-eval.md"))
    args = ap.parse_args()
    h = 4 if args.quick else args.histories
    t0 = time.perf_counter()
    cells_args = [(k, cv, rel, h, 1000 * i + j) for i, (k, cv) in enumerate((k, cv) for k in D.NOISE_KINDS for cv in CVS)
                  for j, rel in enumerate(STEPS)]
    oh = 2 if args.quick else args.online_histories
    neg_args = [(k, cv, 2 * h, oh, 7000 + i) for i, (k, cv) in enumerate((k, cv) for k in D.NOISE_KINDS for cv in CVS)]
    pair_args = [(k, gap, h, 9000 + i) for i, (k, gap) in enumerate((k, g) for k in D.NOISE_KINDS for g in (3, 5, 10))]
    with multiprocessing.Pool(2) as pool:
        cells = pool.map(_cell, cells_args)
        negs = pool.map(_negatives, neg_args)
        pairs = pool.map(_pairs, pair_args)
    elapsed = time.perf_counter() - t0

    def agg(rows, pred=lambda r: True) -> dict[str, Score]:
        total = {m: Score() for m in METHODS}
        for r in rows:
            if pred(r):
                for m in METHODS:
                    total[m].add(r["scores"][m])
        return total

    lines = [
        "# Regression detection: mdperf against asv's step detection",
        "",
        f"Produced by `python benchmarks/scripts/detector_eval.py --histories {h}` on "
        f"{datetime.date.today().isoformat()} ({elapsed:.0f} s on 2 cores). {h} histories of {N} commits per cell; "
        "the method and the noise models are described in the script's docstring and in "
        "`mdperf/regressions/datasets.py`.",
        "",
        "## Headline: a 3 % step at 1 % noise",
        "",
        "| noise | method | found within 3 commits | recall | exact commit | delay median / P90 |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for kind in D.NOISE_KINDS:
        t = agg(cells, lambda r: r["kind"] == kind and r["cv"] == 0.01 and r["rel"] == 0.03)
        for m, s in t.items():
            d50, d90 = s.delay_quantiles()
            lines.append(f"| {kind} | {m} | {fmt(s.within_3_rate)} | {fmt(s.recall)} | {fmt(s.exact_rate)} | "
                         f"{d50:.0f} / {d90:.0f} |")
    neg_total = agg(negs)
    step_total = agg(cells)
    lines += [
        "",
        "## Overall",
        "",
        "False alarms per 1,000 clean commits on the negatives, counted two ways: *whole history* runs the "
        "detector once on each finished history; *nightly* runs it on every prefix from 20 commits on, as a "
        f"nightly tracker does, and counts each alarm once even if a later night withdraws it ({oh} histories "
        "per cell and kind).",
        "",
        "| method | recall (all cells) | precision | exact commit | false alarms / 1,000: whole history | nightly |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for m in METHODS:
        s, n = step_total[m], neg_total[m]
        lines.append(f"| {m} | {fmt(s.recall)} | {fmt(s.precision)} | {fmt(s.exact_rate)} | "
                     f"{n.false_alarms_per_1000:.2f} | {n.online_false_alarms_per_1000:.2f} |")
    lines += ["", "## Recall by step size (all noise kinds, all CVs)", "",
              "| step | " + " | ".join(METHODS) + " |", "| --- |" + " --- |" * len(METHODS)]
    for rel in STEPS:
        t = agg(cells, lambda r: r["rel"] == rel)
        lines.append(f"| {100 * rel:.0f} % | " + " | ".join(fmt(t[m].recall) for m in METHODS) + " |")
    lines += ["", "## Found within 3 commits, by step size and CV (mdperf / asv 5 % floor / asv steps)", "",
              "| step \\ CV | " + " | ".join(f"{100 * cv:.1f} %" for cv in CVS) + " |",
              "| --- |" + " --- |" * len(CVS)]
    for rel in STEPS:
        row = []
        for cv in CVS:
            t = agg(cells, lambda r: r["rel"] == rel and r["cv"] == cv)
            row.append(" / ".join(fmt(t[m].within_3_rate) for m in METHODS))
        lines.append(f"| {100 * rel:.0f} % | " + " | ".join(row) + " |")
    lines += ["", "## Detection delay in commits after the step (median / P90, found steps)", "",
              "| step | " + " | ".join(METHODS) + " |", "| --- |" + " --- |" * len(METHODS)]
    for rel in STEPS:
        t = agg(cells, lambda r: r["rel"] == rel)
        lines.append(f"| {100 * rel:.0f} % | " + " | ".join(
            "{:.0f} / {:.0f}".format(*t[m].delay_quantiles()) for m in METHODS) + " |")
    lines += ["", "## False alarms per 1,000 clean commits (clean histories, +15 % one-commit spikes, 5 % slow ramps)",
              "", "Whole history / nightly.", "",
              "| noise | CV | " + " | ".join(METHODS) + " |", "| --- | --- |" + " --- |" * len(METHODS)]
    for r in negs:
        lines.append(f"| {r['kind']} | {100 * r['cv']:.1f} % | " + " | ".join(
            f"{r['scores'][m].false_alarms_per_1000:.2f} / {r['scores'][m].online_false_alarms_per_1000:.2f}"
            for m in METHODS) + " |")
    lines += ["", "## Close pairs of 5 % steps at 1 % noise (recall of both steps)", "",
              "| noise | gap | " + " | ".join(METHODS) + " |", "| --- | --- |" + " --- |" * len(METHODS)]
    for r in pairs:
        lines.append(f"| {r['kind']} | {r['gap']} | " + " | ".join(fmt(r['scores'][m].recall) for m in METHODS) + " |")
    lines.append("")
    out = Path(args.out)
    atomic_write_text(out, "\n".join(lines))
    data = {"histories_per_cell": h, "online_histories": oh, "n": N, "elapsed_s": elapsed,
            "negatives": [{"kind": r["kind"], "cv": r["cv"], **{m: vars(s) for m, s in r["scores"].items()}}
                          for r in negs],
            "cells": [{"kind": r["kind"], "cv": r["cv"], "rel": r["rel"],
                       **{m: vars(s) for m, s in r["scores"].items()}} for r in cells]}
    atomic_write_text(out.with_suffix(".json"), json.dumps(data, default=float))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
