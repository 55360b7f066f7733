"""Evaluate mdperf's change detector against asv's own step detection on synthetic histories.

    python benchmarks/scripts/detector_eval.py [--histories N] [--online-histories N] [--headline-histories N]
                                               [--oracle-histories N] [--delay-histories N] [--quick]
                                               [--out FILE]

Writes docs/results/regressions-eval.md (and .json).  Histories: 150 commits; noise of three kinds (Gaussian with
heavy-tailed slow outliers, bimodal clock states, AR(1)) at coefficients of variation 0.5-5 %; one step of
1-20 % at a random commit; pairs of close steps; and negatives (clean, reverting +15 % spikes, slow 5 % ramps).

Methods, each asked for regressions (upward steps):
* mdperf: confirmed regressions of ``mdperf.regressions.detect`` with its defaults.
* asv 5 % floor: boundaries of ``asv.step_detect.detect_steps`` segments rising by >= 5 % (asv's default
  regression threshold, as its Regressions page applies it).
* asv steps: the same with no floor (asv's step detection at its most sensitive).

The headline cells (3 % step, 1 % noise: the targets') get their own, larger sample, and every proportion there
its 95 % Wilson interval; false-alarm rates carry exact Poisson intervals.

Recall and exact attribution are scored on the whole history (a found step within 3 commits of the truth);
exact attribution is set beside the best possible placing of the same steps (the likeliest commit, with the
noise's true density and the levels known: ``oracle_places``).  Delay runs each detector on growing
prefixes, as a nightly tracker sees the history, and counts the commits after the step it needed (capped at
10); at the headline it is set beside an ideal nightly detector (CUSUM knowing the noise, the levels and the
step: ``oracle_delay_rate``).  False alarms are reported changes away from every true step, per 1,000 such
commits: on the finished history, and nightly (every prefix, each alarm counted once even if a later prefix
withdraws it: that alarm already cost a maintainer a morning).
"""

from __future__ import annotations

import argparse
import datetime
import json
import multiprocessing
import sys
import time
from pathlib import Path

import numpy as np
from asv.step_detect import detect_steps
from scipy import stats

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the evaluation lab, benchmarks/eval (not installed with mdperf)

from benchmarks.eval import datasets as D  # noqa: E402
from benchmarks.eval.scoring import (  # noqa: E402
    Score,
    exact_commit_ceiling,
    online_false_alarms,
    oracle_delay_rate,
    oracle_exact_rate,
    oracle_places,
    score,
)

from mdperf.regressions.detector import detect  # noqa: E402
from mdperf.result import atomic_write_text  # noqa: E402

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
    best = [oracle_places(h) for h in histories]  # each method's found steps are also scored against these
    out = {}
    for name, det in METHODS.items():
        total = Score()
        for h, b in zip(histories, best):
            total.add(score(h, det, online=online, best=b))
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


def _oracle(args: tuple) -> tuple[int, int]:
    kind, histories, seed = args
    return oracle_exact_rate(kind, 0.01, 0.03, histories=histories, seed=seed)


def _oracle_delay(args: tuple) -> tuple[int, int, float]:
    kind, histories, seed = args
    return oracle_delay_rate(kind, 0.01, 0.03, histories=histories, seed=seed)


def _headline_chunks(histories: int, chunk: int = 50) -> list[tuple]:
    # The headline cells get many more histories (their figures are the targets'); in chunks, for both workers.
    out = []
    for i, kind in enumerate(D.NOISE_KINDS):
        for j in range(0, histories, chunk):
            out.append((kind, 0.01, 0.03, min(chunk, histories - j), 5000 + 100 * i + j // chunk))
    return out


def rate_ci(k: int, n: int) -> str:
    """A proportion with its 95 % Wilson interval."""
    if not n:
        return "—"
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return f"{100 * k / n:.1f} % ({100 * ci.low:.1f}-{100 * ci.high:.1f})"


def per_1000_ci(k: int, commits: int) -> str:
    """A false-alarm rate per 1,000 commits with its exact 95 % Poisson interval."""
    if not commits:
        return "—"
    lo = stats.chi2.ppf(0.025, 2 * k) / 2 if k else 0.0
    hi = stats.chi2.ppf(0.975, 2 * k + 2) / 2
    return f"{1000 * k / commits:.2f} ({1000 * lo / commits:.2f}-{1000 * hi / commits:.2f})"


def fmt(x: float, pct: bool = True) -> str:
    if x != x:
        return "—"
    return f"{100 * x:.0f} %" if pct else f"{x:.2f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--histories", type=int, default=20, help="histories per cell")
    ap.add_argument("--online-histories", type=int, default=10,
                    help="histories per negative cell and kind also scored online (every prefix)")
    ap.add_argument("--headline-histories", type=int, default=400,
                    help="histories for each headline cell (3 % step, 1 % noise)")
    ap.add_argument("--oracle-histories", type=int, default=4000,
                    help="simulated histories per noise kind for the headline's exact-commit ceiling")
    ap.add_argument("--delay-histories", type=int, default=8000,
                    help="clean simulated histories per noise kind that set the nightly reference's alarm threshold")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "docs" / "results" / "regressions-eval.md"))
    args = ap.parse_args()
    h = 4 if args.quick else args.histories
    t0 = time.perf_counter()
    cells_args = [(k, cv, rel, h, 1000 * i + j) for i, (k, cv) in enumerate((k, cv) for k in D.NOISE_KINDS for cv in CVS)
                  for j, rel in enumerate(STEPS)]
    oh = 2 if args.quick else args.online_histories
    neg_args = [(k, cv, 2 * h, oh, 7000 + i) for i, (k, cv) in enumerate((k, cv) for k in D.NOISE_KINDS for cv in CVS)]
    pair_args = [(k, gap, h, 9000 + i) for i, (k, gap) in enumerate((k, g) for k in D.NOISE_KINDS for g in (3, 5, 10))]
    hh = 8 if args.quick else args.headline_histories
    with multiprocessing.Pool(2) as pool:
        headline = pool.map(_cell, _headline_chunks(hh))
        cells = pool.map(_cell, cells_args)
        negs = pool.map(_negatives, neg_args)
        pairs = pool.map(_pairs, pair_args)
        oracle = dict(zip(D.NOISE_KINDS, pool.map(
            _oracle, [(k, 200 if args.quick else args.oracle_histories, 11000 + i) for i, k in enumerate(D.NOISE_KINDS)])))
        delay_ref = dict(zip(D.NOISE_KINDS, pool.map(
            _oracle_delay,
            [(k, 400 if args.quick else args.delay_histories, 12000 + i) for i, k in enumerate(D.NOISE_KINDS)])))
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
        f"Produced by `python benchmarks/scripts/detector_eval.py --histories {h} --online-histories {oh} "
        f"--headline-histories {hh}` on {datetime.date.today().isoformat()} ({elapsed:.0f} s on 2 cores). "
        f"{h} histories of {N} commits per cell, {hh} per headline cell; the method and the noise models are "
        "described in the script's docstring and in `benchmarks/eval/datasets.py`.",
        "",
        "## Headline: a 3 % step at 1 % noise",
        "",
        f"{hh} histories per noise kind (95 % Wilson intervals in brackets). *Placed within 3 commits*: the "
        "finished history's change lies within 3 commits of the step. *Reported by the 3rd commit after*: a "
        "nightly run on the history up to 3 commits after the step already reports it.",
        "",
        "| noise | method | placed within 3 commits | reported by the 3rd commit after | exact commit "
        "| delay median / P90 |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for kind in D.NOISE_KINDS:
        t = agg(headline, lambda r, kind=kind: r["kind"] == kind)
        for m, s in t.items():
            d50, d90 = s.delay_quantiles()
            delay = f"{d50:.0f} / {d90:.0f}" if s.delays else "—"
            lines.append(f"| {kind} | {m} | {rate_ci(s.found, s.true_steps)} | "
                         f"{rate_ci(s.found_within_3, s.true_steps)} | {fmt(s.exact_rate)} | {delay} |")
    # The exact-commit target measured against the best possible placing of each noise kind: on the very steps
    # each method found (paired, so no sampling noise between the two), and over every step of many more
    # simulated histories (all three kinds pooled: the mean ceiling, for a method that finds every step).
    lines += ["", "### Exact commit against the most any method can reach", "",
              "Each method's cell: *exact commit* of the steps it found / *best possible* on those same steps, the "
              "share of them that the most likely place names exactly, with the noise's true density (for AR(1), "
              "its whitened likelihood) and the levels known (`mdperf.regressions.scoring.oracle_places`). The "
              "step's commit is uniform, so over every step no method names it more often. *Ceiling, every step*: the same "
              f"placing over every step of {oracle[D.NOISE_KINDS[0]][1]} further simulated histories per kind "
              "(95 % Wilson interval; `oracle_exact_rate`).", "",
              "| noise | " + " | ".join(f"{m}: exact / best possible" for m in METHODS) + " | ceiling, every step |",
              "| --- |" + " --- |" * (len(METHODS) + 1)]
    pooled = {m: Score() for m in METHODS}
    for kind in D.NOISE_KINDS:
        t = agg(headline, lambda r, kind=kind: r["kind"] == kind)
        for m in METHODS:
            pooled[m].add(t[m])
        lines.append(f"| {kind} | "
                     + " | ".join(f"{fmt(t[m].exact_rate)} / {fmt(t[m].best_exact_rate)}" for m in METHODS)
                     + f" | {rate_ci(*oracle[kind])} |")
    lines.append("| all three | " + " | ".join(f"{fmt(pooled[m].exact_rate)} / {fmt(pooled[m].best_exact_rate)}"
                                              for m in METHODS) + " | "
                 + rate_ci(sum(o[0] for o in oracle.values()), sum(o[1] for o in oracle.values())) + " |")
    # "Within 3 commits" read as delay: against an ideal nightly detector at the target's false-alarm rate.
    lines += ["", "### Reported by the 3rd commit after, against an ideal nightly detector", "",
              "*Ideal*: Page's CUSUM knowing the noise's density (for AR(1), its whitened likelihood), both "
              "levels and the step's size, its threshold set for 1 false alarm per 1,000 commits on "
              f"{delay_ref[D.NOISE_KINDS[0]][1] * 4} clean histories per kind run night by night (no spikes or ramps), "
              f"then run on {delay_ref[D.NOISE_KINDS[0]][1]} step histories (95 % Wilson interval; "
              "`mdperf.regressions.scoring.oracle_delay_rate`). For a known shift CUSUM has the least worst-case "
              "delay at a given false-alarm rate; it is a reference, not a strict bound on this share, and it is "
              "given what a detector must estimate.", "",
              "| noise | " + " | ".join(METHODS) + " | ideal |", "| --- |" + " --- |" * (len(METHODS) + 1)]
    for kind in D.NOISE_KINDS:
        t = agg(headline, lambda r, kind=kind: r["kind"] == kind)
        lines.append(f"| {kind} | " + " | ".join(fmt(t[m].within_3_rate) for m in METHODS)
                     + f" | {rate_ci(*delay_ref[kind][:2])} |")
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
        "Rates with their exact 95 % Poisson intervals.",
        "",
        "| method | recall (all cells) | precision | exact commit / best possible on the same steps "
        "| false alarms / 1,000: whole history | nightly |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for m in METHODS:
        s, n = step_total[m], neg_total[m]
        lines.append(f"| {m} | {fmt(s.recall)} | {fmt(s.precision)} | {fmt(s.exact_rate)} / {fmt(s.best_exact_rate)} | "
                     f"{per_1000_ci(n.false_alarms, n.clean_commits)} | "
                     f"{per_1000_ci(n.online_false_alarms, n.online_commits)} |")
    lines += ["", "## Recall by step size (all noise kinds, all CVs)", "",
              "| step | " + " | ".join(METHODS) + " |", "| --- |" + " --- |" * len(METHODS)]
    for rel in STEPS:
        t = agg(cells, lambda r, rel=rel: r["rel"] == rel)
        lines.append(f"| {100 * rel:.0f} % | " + " | ".join(fmt(t[m].recall) for m in METHODS) + " |")
    lines += ["", "## Found within 3 commits, by step size and CV (mdperf / asv 5 % floor / asv steps)", "",
              "| step \\ CV | " + " | ".join(f"{100 * cv:.1f} %" for cv in CVS) + " |",
              "| --- |" + " --- |" * len(CVS)]
    for rel in STEPS:
        row = []
        for cv in CVS:
            t = agg(cells, lambda r, rel=rel, cv=cv: r["rel"] == rel and r["cv"] == cv)
            row.append(" / ".join(fmt(t[m].within_3_rate) for m in METHODS))
        lines.append(f"| {100 * rel:.0f} % | " + " | ".join(row) + " |")
    # Exact attribution depends on the step's size in noise sigmas: the cells regrouped that way, beside the
    # most any method can reach on independent Gaussian noise.
    ratios = sorted({round(r["rel"] / r["cv"], 2) for r in cells})
    groups = [("below 1", lambda r: r["rel"] / r["cv"] < 1 - 1e-9)] + [
        (f"{q:g}", lambda r, q=q: round(r["rel"] / r["cv"], 2) == q) for q in ratios if q >= 1]
    lines += ["", "## Exact commit by step size in noise sigmas (found steps, all noise kinds)", "",
              "Step over CV, pooled over the cells that share it; exact commit of the steps each method found / "
              "best possible on those same steps (`oracle_places`), their count in brackets. *Gaussian "
              "ceiling*: the most any method can reach over every step on independent Gaussian noise, knowing "
              "the levels (`mdperf.regressions.scoring.exact_commit_ceiling`).", "",
              "| step / sigma | " + " | ".join(METHODS) + " | Gaussian ceiling |",
              "| --- |" + " --- |" * (len(METHODS) + 1)]
    for label, pred in groups:
        t = agg(cells, pred)
        ceiling = "—" if label == "below 1" else fmt(exact_commit_ceiling(float(label)))
        lines.append(f"| {label} | " + " | ".join(f"{fmt(t[m].exact_rate)} / {fmt(t[m].best_exact_rate)} ({t[m].found})"
                                                  for m in METHODS)
                     + f" | {ceiling} |")
    lines += ["", "## Detection delay in commits after the step (median / P90, found steps)", "",
              "| step | " + " | ".join(METHODS) + " |", "| --- |" + " --- |" * len(METHODS)]
    for rel in STEPS:
        t = agg(cells, lambda r, rel=rel: r["rel"] == rel)
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
    data = {"histories_per_cell": h, "online_histories": oh, "headline_histories": hh, "n": N, "elapsed_s": elapsed,
            "oracle_exact": {kind: {"exact": e, "histories": n} for kind, (e, n) in oracle.items()},
            "oracle_delay": {kind: {"reported": r, "histories": n, "threshold": th}
                             for kind, (r, n, th) in delay_ref.items()},
            "headline": {kind: {m: vars(s) for m, s in agg(headline, lambda r, kind=kind: r["kind"] == kind).items()}
                         for kind in D.NOISE_KINDS},
            "negatives": [{"kind": r["kind"], "cv": r["cv"], **{m: vars(s) for m, s in r["scores"].items()}}
                          for r in negs],
            "cells": [{"kind": r["kind"], "cv": r["cv"], "rel": r["rel"],
                       **{m: vars(s) for m, s in r["scores"].items()}} for r in cells]}
    atomic_write_text(out.with_suffix(".json"), json.dumps(data, default=float))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
