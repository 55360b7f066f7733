"""The verdict of a re-measurement: base against commit, interleaved values of one metric, decided by a
one-sided Mann-Whitney test and bootstrap intervals of the ratio of medians (scipy.stats); how many rounds a
spread needs to decide; a run-wide shift's verdict from its representative cases'.  docs/design/confirm.md has
the method and its evidence."""

from __future__ import annotations

import numpy as np

ALPHA = 0.01
ROUNDS = 8  # per side (docs/design/confirm.md: why 8)
CONFIDENCE = 0.95  # of the bootstrap interval of the ratio
MIN_EFFECT_PCT = 0.5  # the interval must clear 1 by this much: a change too small to matter is not an alarm
# A rejection silences a flag for good, so it takes more: the 99 % interval must exclude half the flagged change.
REJECT_CONFIDENCE = 0.99
MAX_ROUNDS = 24  # per side: how far an inconclusive re-measurement is extended (3 x ROUNDS)
SPREAD_MARGIN = 0.5  # ... or by this fraction of the re-measurement's spread, when that is larger


def _ratio_interval(a: np.ndarray, b: np.ndarray, confidence: float) -> tuple[float, float]:
    from scipy import stats

    boot = stats.bootstrap((b, a), lambda x, y, axis=-1: np.median(x, axis=axis) / np.median(y, axis=axis),
                           vectorized=True, paired=False, n_resamples=4000, method="percentile",
                           confidence_level=confidence, random_state=np.random.default_rng(0))
    return float(boot.confidence_interval.low), float(boot.confidence_interval.high)


def spread_of(base: list[float], commit: list[float]) -> float:
    """The re-measurement's own spread: the root-mean-square log deviation of each side from its median."""
    a, b = np.asarray(base, float), np.asarray(commit, float)
    if not ((a > 0).all() and (b > 0).all()):
        return 0.0
    logs = np.concatenate([np.log(a / np.median(a)), np.log(b / np.median(b))])
    return float(np.sqrt(np.mean(logs ** 2)))


def reject_bound_pct(flagged_pct: float | None) -> float:
    """How far from 1 the interval must stop short for a rejection: half the flagged change, at least
    MIN_EFFECT_PCT (a flag of unknown size: MIN_EFFECT_PCT)."""
    return max(MIN_EFFECT_PCT, abs(flagged_pct) / 2) if flagged_pct is not None and np.isfinite(flagged_pct) \
        else MIN_EFFECT_PCT


def rounds_needed(spread: float, flagged_pct: float | None) -> int:
    """Rounds per side that can resolve the flagged size: the 99 % interval of the ratio narrower, each side,
    than half the flagged change (a rejection possible), and a change of half the flagged size clearing the
    confirmation margin with its 95 % interval (a confirmation possible).  The median's standard error:
    1.2533 sigma / sqrt(n) a side.  A flag no larger than the margin cannot be resolved: a very large number."""
    half = float(np.log1p(reject_bound_pct(flagged_pct) / 100))
    if spread <= 0:
        return 4
    margin = float(np.log1p(max(MIN_EFFECT_PCT / 100, SPREAD_MARGIN * spread)))
    reject = 2 * (2.576 * 1.2533 * spread / half) ** 2
    if half <= margin:
        return 10**6
    confirm_ = 2 * (1.96 * 1.2533 * spread / (half - margin)) ** 2
    return int(np.ceil(max(reject, confirm_, 4)))


def decide(base: list[float], commit: list[float], up: bool, alpha: float = ALPHA,
           flagged_pct: float | None = None) -> dict:
    """The verdict on ``commit``'s values against ``base``'s for a change upwards (``up``) or downwards of about
    ``flagged_pct`` per cent: ``confirmed`` (the test rejects "no change" and the 95 % interval of the ratio
    clears 1 by the margin; also, ``reversed``, when it clears 1 the other way: the change is there, in the
    direction ``up`` says), ``rejected`` only when the 99 % interval excludes half the flagged change and no change
    the other way is confirmed (evidence that it is not there), else ``inconclusive`` (the re-measurement could
    not tell)."""
    from scipy import stats

    a, b = np.asarray(base, float), np.asarray(commit, float)
    p = float(stats.mannwhitneyu(b, a, alternative="greater" if up else "less").pvalue)
    ratio = float(np.median(b) / np.median(a))
    lo, hi = _ratio_interval(a, b, CONFIDENCE)
    # The interval must clear 1 by MIN_EFFECT_PCT, or by half the re-measurement's own spread when that is larger:
    # on a noisy machine a small shift of the medians is not yet a change.
    spread = spread_of(base, commit)
    margin = max(MIN_EFFECT_PCT / 100, SPREAD_MARGIN * spread)
    confirmed = p < alpha and (lo > 1 + margin if up else hi < 1 - margin)
    # A change measured the other way than the history read is a change (confirmed, reversed), never "not there":
    # a busy night can invert the history's reading of a real step.
    p_other = float(stats.mannwhitneyu(b, a, alternative="less" if up else "greater").pvalue)
    reversed_ = not confirmed and p_other < alpha and (hi < 1 - margin if up else lo > 1 + margin)
    bound = reject_bound_pct(flagged_pct) / 100
    rlo, rhi = _ratio_interval(a, b, REJECT_CONFIDENCE)
    rejected = not confirmed and not reversed_ and (rhi < 1 + bound if up else rlo > 1 - bound)
    verdict = "confirmed" if confirmed or reversed_ else "rejected" if rejected else "inconclusive"
    return {"verdict": verdict, "ratio": ratio, "ci": [lo, hi], "p_value": p_other if reversed_ else p,
            "margin_pct": 100 * margin, "reject_ci": [rlo, rhi], "reject_bound_pct": 100 * bound,
            "spread_pct": 100 * spread, "up": (not up) if reversed_ else up, "reversed": reversed_}


def shift_verdict(found: list[str]) -> str:
    """A run-wide shift's verdict from its representative cases' verdicts: the code's (``confirmed``) when some
    are confirmed and none rejected, the machine's (``rejected``) when some are rejected and none confirmed, else
    ``inconclusive`` (they disagree, or none could decide)."""
    kinds = set(found)
    if "confirmed" in kinds and "rejected" not in kinds:
        return "confirmed"
    if "rejected" in kinds and "confirmed" not in kinds:
        return "rejected"
    return "inconclusive"


def extend_to(found: list[dict], have: int, max_rounds: int = MAX_ROUNDS) -> int | None:
    """The rounds a side to measure to when some verdicts are inconclusive: what their spread says the flagged
    size needs, within ``max_rounds``; None when none is, or no more rounds are allowed."""
    open_ = [v for v in found if v["verdict"] == "inconclusive"]
    if not open_:
        return None
    upto = min(max_rounds, max(rounds_needed(v["spread_pct"] / 100, v.get("flag_change_pct")) for v in open_))
    upto = max(upto, min(max_rounds, have + 4))  # at least two more ABBA pairs
    return upto if upto > have else None


def inconclusive_note(v: dict, max_rounds: int = MAX_ROUNDS) -> str:
    """Why a re-measurement could not decide, and what would."""
    ci = v["ci"]
    text = (f"inconclusive: x{v['ratio']:.3f} [{ci[0]:.3f}, {ci[1]:.3f}] after {v['rounds']} rounds neither clears "
            f"1 nor excludes half the flagged {v['flag_change_pct']:+.1f}%")
    need = v.get("rounds_needed")
    if need and need > v["rounds"]:
        text += (f"; this spread ({v['spread_pct']:.1f} %) needs about {need} rounds a side"
                 + (f", over the budget of {max_rounds}: quiet the machine (docs/guides/regressions.md)"
                    if need > max_rounds else ""))
    return text + "; kept to watch"
