"""Never quiet when blind (issue 33): untimed results ordered by date, rates read as rates, small field shapes
read as a person reads them, coverage stated, noisy points kept as weaker evidence, run-wide shifts left
undecided until measured.  Real asv result folders throughout."""

import json

import numpy as np
import pytest

from histories import write_asv_results
from mdperf import history
from mdperf.regressions import analyse

DAY_MS = 86_400_000
T0 = 1_700_000_000_000


def _shuffled_hashes(n, seed=3):
    """Commit hashes whose sorted order has nothing to do with the commits' order."""
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list("0123456789abcdef"), 40)) for _ in range(n)]


def test_untimed_results_are_ordered_by_commit_date_not_by_hash(tmp_path):
    # asv's old format records no run times: each commit is its own run, placed by date.  In hash order a
    # history of 12 series reads as a machine event at nearly every run.
    n, k = 40, 12
    commits = _shuffled_hashes(n)
    assert sorted(commits) != commits
    rng = np.random.default_rng(0)
    values = [[float(0.1 * (1 + 0.1 * j) * np.exp(rng.normal(0, 0.005)) * (1.25 if i >= 25 else 1.0))
               for j in range(k)] for i in range(n)]
    write_asv_results(tmp_path / "r", "m", commits, {"b.time_x": dict(
        params=[[f"'{j}'" for j in range(k)]], param_names=["n"], unit="seconds", values=values)},
        dates=[T0 + i * DAY_MS for i in range(n)])
    h = history.read(tmp_path / "r")
    assert h.ordered_by == "date" and h.order == commits
    assert [r.commits for r in h.runs["m"]] == [[c] for c in commits]  # runs in date order, one per commit
    rep = analyse(h)
    # One place where every series moved, at commit 25 — never a scatter of bogus events in hash order.
    assert {e.commits[0] for e in rep.events} <= {commits[25]}


@pytest.mark.parametrize("name, unit", [("bench.track_gflops", "unit"), ("bench.track_mflops_per_core", ""),
                                        ("bench.track_items_per_s", ""), ("bench.track_x", "GFLOPS"),
                                        ("bench.track_rows", "rows/s"), ("bench.TimeSuite.track_Throughput", "")])
def test_rates_are_higher_is_better(name, unit):
    assert history.higher_is_better(name, unit)


@pytest.mark.parametrize("name, unit", [("md.Energy.track_drift_mev_per_atom_ps", "meV/atom/ps"),
                                        ("md.Latency.track_latency_p50_ms", "ms"), ("b.time_step", "seconds"),
                                        ("b.peakmem_x", "bytes"), ("b.track_ms_per_step", "ms")])
def test_times_memory_and_drift_are_lower_is_better(name, unit):
    assert not history.higher_is_better(name, unit)


def test_a_speedup_of_a_rate_is_an_improvement_not_a_regression(tmp_path):
    n = 30
    commits = [f"{i:08x}" + "b" * 32 for i in range(n)]
    rng = np.random.default_rng(2)
    vals = [float(5.0 * np.exp(rng.normal(0, 0.005)) * (1.3 if i >= 15 else 1.0)) for i in range(n)]
    write_asv_results(tmp_path / "r", "m", commits, {"b.track_gflops": dict(
        params=[], param_names=[], unit="unit", values=vals)},
        started_at=[T0 + i * DAY_MS for i in range(n)], dates=[T0 + i * DAY_MS for i in range(n)])
    rep = analyse(history.read(tmp_path / "r"))
    (f,) = rep.flags
    assert f.kind == "improvement" and f.commit == commits[15] and not rep.new_confirmed_regressions


# --- small field shapes, each from a small reproduction --------------------------------------------------


def _one_series(tmp_path, values, name="b.time_x"):
    n = len(values)
    commits = [f"{i:08x}" + "c" * 32 for i in range(n)]
    write_asv_results(tmp_path / "r", "m", commits, {name: dict(params=[], param_names=[], unit="seconds",
                                                                values=[float(v) for v in values])},
                      started_at=[T0 + i * DAY_MS for i in range(n)], dates=[T0 + i * DAY_MS for i in range(n)])
    return analyse(history.read(tmp_path / "r")), commits


def _noise(n, seed, cv=0.01):
    return np.exp(np.random.default_rng(seed).normal(0, cv, n))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_step_beside_a_spike_is_one_step(tmp_path, seed):
    # A lasting -16 % step right after a 3-commit spike of +35 %: once read as a +35 % regression and a -39 %
    # improvement.  A person sees a spike (a transient) and one step down.
    x = np.concatenate([np.ones(30), 1.35 * np.ones(3), 0.84 * np.ones(30)]) * _noise(63, seed)
    rep, commits = _one_series(tmp_path, x)
    kinds = sorted((f.kind, f.commit) for f in rep.flags)
    assert kinds == [("improvement", commits[33]), ("transient", commits[30])]
    step = next(f for f in rep.flags if f.kind == "improvement")
    assert step.change_pct == pytest.approx(-16, abs=2)  # against the level before the spike, not the spike
    assert not rep.new_confirmed_regressions


@pytest.mark.parametrize("seed", [0, 23, 126])
@pytest.mark.parametrize("length", [2, 3])
def test_a_short_excursion_is_a_transient_never_a_confirmed_regression(tmp_path, seed, length):
    # Up 20 % for 2-3 commits at 3 % noise, then back for the last three: the return is too near the end for a
    # change point of its own, and these seeds were once confirmed as a regression.
    x = np.concatenate([np.ones(30), 1.2 * np.ones(length), np.ones(3)]) * _noise(33 + length, seed, cv=0.03)
    rep, commits = _one_series(tmp_path, x)
    assert not [f for f in rep.flags if f.kind in ("regression", "improvement") and f.state == "confirmed"]
    assert not rep.new_confirmed_regressions


def test_commits_at_level_is_how_long_the_level_held(tmp_path):
    # +20 % for 4 commits, then +20 % more to the end: the first level held 4 commits, not 44.
    x = np.concatenate([np.ones(30), 1.2 * np.ones(4), 1.44 * np.ones(40)]) * _noise(74, 4)
    rep, commits = _one_series(tmp_path, x)
    held = {f.commit: f.commits_at_level for f in rep.flags}
    assert held == {commits[30]: 4, commits[34]: 40}
