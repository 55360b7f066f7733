"""``mdperf profile``: why a commit got slower — one case profiled at the base and at the commit, in turns, in
fresh processes of the benchmark environment, and the functions (operators on CUDA) whose time grew most.

One module per step: :mod:`.child` (the profiled run), :mod:`.rank` (what grew), :mod:`.run` (the sitting and
the saved record), :mod:`.report` (its formats).  The method and its evidence: docs/design/profile.md."""

from __future__ import annotations

from .child import PROFILE_CHILD, TRACE_STEPS, profile_once
from .rank import MIN_SELF_MS, TOP, Row, rank, step_ms
from .report import headline, markdown, show
from .run import (
    BUDGET_S,
    KEEP,
    MAX_STEPS,
    MIN_ROUNDS,
    PROFILE_DIR,
    ROUNDS,
    default_case,
    is_time,
    load,
    parse_case,
    profile_commit,
)

__all__ = [
    "BUDGET_S", "KEEP", "MAX_STEPS", "MIN_ROUNDS", "MIN_SELF_MS", "PROFILE_CHILD", "PROFILE_DIR", "ROUNDS", "TOP",
    "TRACE_STEPS", "Row", "default_case", "headline", "is_time", "load", "markdown", "parse_case", "profile_commit",
    "profile_once", "rank", "show", "step_ms",
]
