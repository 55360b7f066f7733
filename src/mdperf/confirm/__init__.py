"""``mdperf confirm``: re-measure a flagged change against its base, interleaved, and decide.

One module per step: :mod:`.targets` (what to re-measure), :mod:`.measure` (building and measuring),
:mod:`.verdict` (deciding), :mod:`.pipeline` (the command, from inputs to verdicts), :mod:`.report` (their
formats); the suspicions it takes up live with the report's flags (:mod:`mdperf.regressions.suspicions`).

Statistics over history needs several more commits to confirm a small step, and cannot tell a step from a
noisy night.  Here the flagged commit and its base (the commit before it, or before its unmeasured range) are
each built once into a folder of their own (``pip install --no-deps --target``) and measured in turns — base,
commit, commit, base, … — each time in a fresh process of the existing asv environment's Python, with that
commit's folder first on the path.  Only the flagged cases run.  A one-sided Mann-Whitney test on the flagged
metric and a 95 % bootstrap interval of the ratio of medians (scipy.stats) decide: ``confirmed`` when the test
rejects "no change" at ``ALPHA`` and the interval clears 1 by ``MIN_EFFECT_PCT`` in the flag's direction;
``rejected`` only when a 99 % interval excludes half the flagged change; else ``inconclusive``, measured further
(as many rounds as the spread says the flagged size needs, up to ``MAX_ROUNDS``) and, still undecided, kept to
watch with the reason.  With ``--new``, the newest commit of a series that looks worse than its recent level is taken up
too (``suspicion``), so a step is confirmed the night it lands.  The
verdicts go to ``<results>/<machine>/mdperf-confirm.jsonl`` (:mod:`mdperf.regressions.verdicts`), which the
report, the site and the issues read.

asv's ``run --interleave-rounds`` was the first thing tried: it writes over the nightly's stored results of both
commits, and each round re-runs the suite's shared ``setup_cache`` — every case of the profile — where one
case is wanted.
"""

from __future__ import annotations

from ..regressions.suspicions import (
    RECENT,
    TRIGGER_BENCHMARKS,
    TRIGGER_MIN_PCT,
    TRIGGER_SIGMA,
    at_commits,
    newest_suspicions,
    suspicion,
)
from .measure import BUILD_PREFIX, Sitting, _remove_orphaned_folders, confirm, measure_once
from .pipeline import Plan, plan, rounds_of, run
from .targets import (
    BUILD_S,
    MAX_CASES,
    RUN_WIDE_CASES,
    START_S,
    Target,
    _representatives,
    estimate_s,
    metric_of,
    run_wide_verdicts,
    targets,
)
from .verdict import (
    ALPHA,
    CONFIDENCE,
    MAX_ROUNDS,
    MIN_EFFECT_PCT,
    REJECT_CONFIDENCE,
    ROUNDS,
    SPREAD_MARGIN,
    decide,
    extend_to,
    inconclusive_note,
    reject_bound_pct,
    rounds_needed,
    shift_verdict,
    spread_of,
)

__all__ = [
    "ALPHA", "BUILD_PREFIX", "BUILD_S", "CONFIDENCE", "MAX_CASES", "MAX_ROUNDS", "MIN_EFFECT_PCT", "RECENT",
    "REJECT_CONFIDENCE", "ROUNDS", "RUN_WIDE_CASES", "SPREAD_MARGIN", "START_S", "TRIGGER_BENCHMARKS",
    "TRIGGER_MIN_PCT", "TRIGGER_SIGMA", "Plan", "Sitting", "Target", "at_commits", "confirm", "decide", "estimate_s",
    "extend_to", "inconclusive_note", "measure_once", "metric_of", "newest_suspicions", "plan",
    "reject_bound_pct", "rounds_needed", "rounds_of", "run", "run_wide_verdicts", "shift_verdict", "spread_of",
    "suspicion", "targets", "_remove_orphaned_folders", "_representatives",
]
