"""mdperf profile's ranking and formats, on profiled rounds as the child writes them (the real profiles of a
real repository: tests/test_confirm.py)."""

import random

import pytest

from mdperf import profiling, site
from mdperf.errors import UserError
from mdperf.regressions.issues import regression_text
from mdperf.regressions.model import Flag


def rounds(entries_ms, n=5, noise=0.05, seed=0, steps=100):
    """``n`` profiled rounds: each function's (self ms, total ms, calls) per step, with multiplicative noise."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        e = {}
        for name, (self_ms, total_ms, calls) in entries_ms.items():
            f = 1 + rng.uniform(-noise, noise)
            e[name] = [self_ms * f * steps / 1e3, total_ms * f * steps / 1e3, calls * steps]
        out.append({"entries": e, "steps_run": steps, "kind": "function"})
    return out


BASE = {"calc.py:calculate": (0.3, 10.3, 1), "calc.py:_lj": (8.0, 9.0, 1), "<method 'sum'>": (1.0, 1.0, 4),
        "ase/md.py:step": (0.2, 10.6, 1)}


def test_the_function_a_commit_added_tops_the_list_not_its_callers():
    # +2 ms in a new function: every caller's total time grows by as much; only its self time names it
    commit = dict(BASE, **{"calc.py:_rows": (1.6, 2.0, 1), "<method 'sum'>": (1.4, 1.4, 5),
                           "calc.py:calculate": (0.3, 12.3, 1), "ase/md.py:step": (0.2, 12.6, 1)})
    rows = profiling.rank(rounds(BASE, seed=1), rounds(commit, seed=2))
    top = rows[0]
    assert top.name == "calc.py:_rows" and top.self_growth_pct is None and top.base_self_ms == 0
    assert top.self_growth_ms == pytest.approx(1.6, rel=0.1) and top.total_growth_ms == pytest.approx(2.0, rel=0.1)
    assert 0 < top.self_growth_range_ms[0] <= top.self_growth_ms <= top.self_growth_range_ms[1]
    assert top.share_pct == pytest.approx(80, abs=10)  # of the whole step's growth (2 ms)
    assert rows[1].name == "<method 'sum'>" and rows[1].self_growth_pct == pytest.approx(40, abs=8)
    calc = next(r for r in rows if r.name == "calc.py:calculate")
    assert calc.total_growth_ms == pytest.approx(2.0, abs=0.8) and abs(calc.self_growth_ms) < 0.05


def test_a_function_grown_within_the_noise_is_not_above_one_that_grew():
    grown = dict(BASE, **{"calc.py:_lj": (9.6, 10.6, 1)})  # +20 % of the step, in the existing function
    hits = sum(profiling.rank(rounds(BASE, seed=s), rounds(grown, seed=100 + s), top=1)[0].name == "calc.py:_lj"
               for s in range(20))
    assert hits == 20


def test_a_case_is_a_case_of_the_suite():
    profile = {"calculator": ["mycalc:make", "lj"], "atoms": [64, 256], "device": ["cpu", "cuda"]}
    assert profiling.parse_case("mycalc:make:256", profile) == ("mycalc:make", 256, "cpu")
    assert profiling.parse_case("mycalc:make:64:cuda", profile) == ("mycalc:make", 64, "cuda")
    assert profiling.parse_case("lj:64", profile) == ("lj", 64, "cpu")
    assert profiling.default_case(profile) == ("mycalc:make", 256, "cpu")
    for bad, message in (("mycalc:make", "CALCULATOR:ATOMS"), ("other:64", "not a calculator of the suite"),
                         ("lj:64:tpu", "not one of the suite's")):
        with pytest.raises(UserError, match=message):
            profiling.parse_case(bad, profile)


def record():
    commit = dict(BASE, **{"calc.py:_rows": (1.6, 2.0, 1)})
    rows = profiling.rank(rounds(BASE, seed=1), rounds(commit, seed=2))
    return {"commit": "c" * 40, "base": "b" * 40, "machine": "runner", "kind": "function", "rounds": 5,
            "case": {"calculator": "mycalc:make", "atoms": 256, "device": "cpu"}, "step_growth_pct": 17.0,
            "rows": [r.to_dict() for r in rows], "file": "mdperf-profiles/x.json",
            "traces": {"base": "mdperf-profiles/x-base.trace.json.gz", "commit": "mdperf-profiles/x-commit.trace.json.gz"}}


def test_the_issue_says_what_grew_most_with_a_link():
    flag = Flag(benchmark="md.Latency.track_latency_p50_ms", params={"calculator": "mycalc:make"}, machine="runner",
                commit="c" * 40, range_start=None, env="", before=10.0, after=12.0, change_pct=20.0, unit="ms",
                kind="regression", state="confirmed", z=9.0, p_value=1e-6, new=True, graph="#")
    _, body = regression_text("c" * 40, [flag], "https://example.org/site/", profiles=[record()])
    assert "**Why (profile)**: mycalc:make at 256 atoms on cpu" in body
    assert "[profile and traces](https://example.org/site/mdperf.html#commit-" + "c" * 40 + ")" in body
    table = [line for line in body.splitlines() if line.startswith("| 1 |")]
    assert table and "`calc.py:_rows`" in table[0] and "| new |" in table[0]
    _, plain = regression_text("c" * 40, [flag], profiles=[record()])
    assert "(profile and traces: `runner/mdperf-profiles/x.json` in the results)" in plain


def test_the_changes_page_shows_a_profile_beside_its_commit():
    from mdperf.regressions.model import Report

    rec = dict(record(), links=[("profile (JSON)", "mdperf-profiles/runner/mdperf-profiles/x.json")])
    page = site.render(Report([], [], 0, 0, "commit date", None), profiles={"c" * 40: [rec]})
    assert 'id="profiles"' in page and 'class="profile" data-commit="' + "c" * 40 in page
    assert "<code>calc.py:_rows</code>" in page and 'href="mdperf-profiles/runner/mdperf-profiles/x.json"' in page
