"""What the machine changed, told from what the code changed: benchmark versions, machine events (run-wide
shifts, recorded machine facts), run order and backfills, honest sizes.  Real asv result folders throughout."""

import json

import numpy as np
import pytest

from histories import write_asv_results
from mdperf import asvresults, history
from mdperf.errors import UserError
from mdperf.regressions import analyse, config, verdicts
from mdperf.regressions.config import RegressionConfig
from mdperf.regressions.model import RUN_WIDE

DAY_MS = 86_400_000
T0 = 1_700_000_000_000
N_SERIES = 20


def suite(tmp_path, n=40, shift=None, versions=None, facts=None, standout=None, dates=None, started=None,
          n_series=N_SERIES, name="md.Step.time_md_step"):
    """``n_series`` series of one benchmark (a parameter each), measured nightly; ``shift(i)`` multiplies every
    series at commit ``i`` (the machine), ``standout(i)`` the first series only."""
    rng = np.random.default_rng(1)
    commits = [f"{i:08x}" + "a" * 32 for i in range(1, n + 1)]
    values = []
    for i in range(n):
        row = 0.1 * np.exp(rng.normal(0, 0.005, n_series)) * (1 + 0.05 * np.arange(n_series))
        row = row * (shift(i) if shift else 1.0)
        if standout:
            row[0] *= standout(i)
        values.append([float(v) for v in row])
    bench = {name: {"params": [[f"'{k}'" for k in range(n_series)]], "param_names": ["system"],
                    "unit": "seconds", "values": values}}
    if versions:
        bench[name]["versions"] = versions
    rdir = tmp_path / "results"
    write_asv_results(rdir, "runner", commits, bench, dates=dates or [T0 + i * DAY_MS for i in range(n)],
                      started_at=started or [T0 + i * DAY_MS + 3_600_000 for i in range(n)])
    if facts:
        asvresults.append_runs(rdir / "runner", [{"commit": c, "env": "virtualenv-py3.11-torch2.13.0",
                                                  "started_at": None, "facts": facts(i)}
                                                 for i, c in enumerate(commits)])
    return rdir, commits


def test_a_run_wide_shift_is_one_change_not_twenty_regressions_and_a_measurement_decides_it(tmp_path):
    # No machine facts recorded: the history cannot tell the code from the machine, so the shift is one undecided
    # change at its commit (never absorbed on the history's say-so) until mdperf confirm records a verdict.
    rdir, commits = suite(tmp_path, shift=lambda i: 1.3 if i >= 25 else 1.0)
    rep = analyse(history.read(rdir))
    assert rep.ordered_by == "run time"
    assert rep.confirmed == []  # its series are not listed one by one
    (e,) = rep.events
    assert e.commits == [commits[25]] and e.shift_pct == pytest.approx(30, abs=2)
    assert e.series == N_SERIES and e.moved == N_SERIES and e.lasted is None and e.undecided and e.absorbed == 0
    (rw,) = rep.run_wide
    assert rw.commit == commits[25] and len(rw.flags) == N_SERIES and rw.kind == "regression" and rw.lasting
    assert rep.to_dict()["run_wide_changes"][0]["decide_with"] == f"mdperf confirm {commits[25][:10]} --machine runner"
    # The machine's, by re-measurement: absorbed by the event.
    verdicts.append(rdir, "runner", [{"benchmark": RUN_WIDE, "params": {}, "commit": commits[25],
                                      "verdict": "rejected"}])
    rep = analyse(history.read(rdir), confirmed=verdicts.load(rdir))
    (e,) = rep.events
    assert rep.run_wide == [] and rep.confirmed == [] and e.absorbed == N_SERIES and e.decided == "machine"
    data = rep.to_dict()["environment_events"][0]
    assert data["machine"] == "runner" and data["absorbed_changes"] == N_SERIES
    # The code's: every series' change is reported, as the code's.
    verdicts.append(rdir, "runner", [{"benchmark": RUN_WIDE, "params": {}, "commit": commits[25],
                                      "verdict": "confirmed"}])
    rep = analyse(history.read(rdir), confirmed=verdicts.load(rdir))
    assert len(rep.confirmed) == N_SERIES and all(f.run_wide == "code" for f in rep.confirmed)


def test_a_series_that_stands_out_from_the_event_is_still_reported(tmp_path):
    rdir, commits = suite(tmp_path, shift=lambda i: 1.3 if i >= 25 else 1.0,
                          standout=lambda i: 2.0 if i >= 25 else 1.0)
    verdicts.append(rdir, "runner", [{"benchmark": RUN_WIDE, "params": {}, "commit": commits[25],
                                      "verdict": "rejected"}])
    rep = analyse(history.read(rdir), confirmed=verdicts.load(rdir))
    (f,) = [f for f in rep.flags if f.state == "confirmed"]
    assert f.params == {"system": "'0'"} and f.commit == commits[25] and f.kind == "regression"
    assert f.change_pct == pytest.approx(160, abs=8)  # as measured: 1.3 x 2.0
    assert "stands out from a run-wide shift" in f.note
    assert rep.events[0].absorbed == N_SERIES - 1


def test_one_slow_night_is_one_event_that_lasted_one_run(tmp_path):
    rdir, commits = suite(tmp_path, shift=lambda i: 1.5 if i == 30 else 1.0)
    rep = analyse(history.read(rdir))
    assert rep.flags == []
    (e,) = rep.events
    assert e.commits == [commits[30]] and e.lasted == 1


def test_fewer_series_than_an_event_needs_are_judged_one_by_one(tmp_path):
    rdir, commits = suite(tmp_path, shift=lambda i: 1.3 if i >= 25 else 1.0, n_series=4)
    rep = analyse(history.read(rdir))
    assert rep.events == []
    assert len([f for f in rep.flags if f.kind == "regression" and f.state == "confirmed"]) == 4


def test_a_recorded_machine_change_is_an_event_whatever_moved(tmp_path):
    kernel = lambda i: {"cpu": "Xeon", "kernel": "6.8" if i >= 25 else "6.5"}  # noqa: E731
    rdir, commits = suite(tmp_path, shift=lambda i: 1.3 if i >= 25 else 1.0, n_series=4, facts=kernel)
    rep = analyse(history.read(rdir))
    (e,) = rep.events
    assert e.facts == "kernel: 6.5 -> 6.8" and e.commits == [commits[25]]
    assert [f for f in rep.flags if f.state == "confirmed"] == [] and e.absorbed == 4


def test_a_lasting_shift_on_an_unchanged_recorded_machine_is_the_codes(tmp_path):
    same = lambda i: {"cpu": "Xeon", "kernel": "6.5"}  # noqa: E731
    rdir, commits = suite(tmp_path, shift=lambda i: 1.3 if i >= 25 else 1.0, facts=same)
    rep = analyse(history.read(rdir))
    (e,) = rep.events
    assert not e.absorbs and e.to_dict()["absorbs"] is False
    regs = [f for f in rep.flags if f.kind == "regression" and f.state == "confirmed"]
    assert len(regs) == N_SERIES and all(f.commit == commits[25] for f in regs)


def test_no_flag_rests_on_a_benchmark_version_change(tmp_path):
    versions = ["a"] * 20 + ["b"] * 20
    rdir, commits = suite(tmp_path, n_series=1, shift=lambda i: 3.0 if i >= 20 else 1.0, versions=versions)
    rep = analyse(history.read(rdir))
    assert rep.flags == []
    (b,) = rep.benchmark_changes
    assert (b.benchmark, b.machine, b.commit, b.series) == ("md.Step.time_md_step", "runner", commits[20], 1)
    assert rep.to_dict()["benchmark_changes"][0]["commit"] == commits[20]
    # A step inside one version is still found.
    rdir2, commits2 = suite(tmp_path / "b", n_series=1, versions=versions,
                            shift=lambda i: 3.0 if i >= 20 else (1.5 if i >= 10 else 1.0))
    assert [f.commit for f in analyse(history.read(rdir2)).flags] == [commits2[10]]


def test_order_comes_from_run_times_not_commit_dates(tmp_path):
    n = 30
    # Commit dates say the opposite of the order they were measured in (merged patches keep old author dates).
    dates = [T0 - i * DAY_MS for i in range(n)]
    rdir, commits = suite(tmp_path, n=n, n_series=1, dates=dates, shift=lambda i: 1.5 if i >= 20 else 1.0)
    h = history.read(rdir)
    assert h.ordered_by == "run time" and h.order == commits and h.backfilled == set()
    (f,) = analyse(h).flags
    assert f.commit == commits[20] and f.kind == "regression"


def test_a_backfill_never_creates_a_step(tmp_path):
    n = 30
    # Commits 20-23 were measured last, in one sitting, after 24-29: a backfill of older commits.
    started = [T0 + i * DAY_MS for i in range(n)]
    for k, i in enumerate(range(20, 24)):
        started[i] = T0 + 40 * DAY_MS + k * 60_000
    rdir, commits = suite(tmp_path, n=n, n_series=1, started=started, shift=lambda i: 1.5 if i >= 24 else 1.0)
    h = history.read(rdir)
    assert h.backfilled == set(commits[20:24]) and h.order[-4:] == commits[20:24]
    rep = analyse(h)
    assert rep.backfilled == 4
    assert [f.commit for f in rep.flags] == [commits[24]]  # the step is at 24; the old values after it are not judged


def test_flag_size_is_the_medians_of_the_commits_around_it(tmp_path):
    rdir, commits = suite(tmp_path, n_series=1, shift=lambda i: 1.4 if i >= 25 else 1.0)
    h = history.read(rdir)
    (f,) = analyse(h).flags
    v = np.asarray(h.series[0].values)
    assert f.before == pytest.approx(np.median(v[20:25])) and f.after == pytest.approx(np.median(v[25:30]))
    assert f.change_pct == pytest.approx(100 * (f.after / f.before - 1))


def test_event_settings(tmp_path):
    p = tmp_path / "reg.toml"
    p.write_text("[events]\nmin_series = 3\nmin_share = 0.9\nrun_gap_h = 1\n")
    cfg = config.load(p)
    assert cfg.events.min_series == 3 and isinstance(cfg.events.min_series, int)
    assert cfg.events.min_share == 0.9 and cfg.run_gap_h == 1.0
    rdir, _ = suite(tmp_path, shift=lambda i: 1.3 if i >= 25 else 1.0, n_series=4)
    assert len(analyse(history.read(rdir), cfg).events) == 1
    p.write_text("[events]\nmin_seris = 3\n")
    with pytest.raises(UserError, match="unknown events setting"):
        config.load(p)
    assert RegressionConfig().events.min_series == 10


def test_runs_group_files_of_one_sitting(tmp_path):
    # Two commits measured minutes apart are one run; the next night is another.
    started = [T0, T0 + 300_000, T0 + DAY_MS, T0 + DAY_MS + 300_000]
    rdir, commits = suite(tmp_path, n=4, n_series=1, started=started)
    h = history.read(rdir)
    assert [r.commits for r in h.runs["runner"]] == [commits[:2], commits[2:]]
    assert h.series[0].runs == [0, 0, 1, 1]


def test_unreadable_facts_line_is_a_problem_not_a_failure(tmp_path):
    rdir, _ = suite(tmp_path, n=6, n_series=1)
    (rdir / "runner" / "mdperf-runs.jsonl").write_text('{"commit": "x", "env": "e", "facts": {"a": 1}}\nnot json\n')
    h = history.read(rdir)
    assert any("mdperf-runs.jsonl" in p.path and "line 2" in p.reason for p in h.problems)
    assert json.loads((rdir / "runner" / "mdperf-runs.jsonl").read_text().splitlines()[0])["commit"] == "x"


def test_report_site_and_markdown_say_events_and_benchmark_changes(tmp_path):
    from mdperf import site
    from mdperf.regressions import report as text

    versions = ["a"] * 30 + ["b"] * 10
    rdir, commits = suite(tmp_path, shift=lambda i: 1.3 if i >= 25 else 1.0, versions=versions)
    rep = analyse(history.read(rdir))
    page = site.render(rep)
    assert 'id="machine-events"' in page and f"{rep.events[0].shift_pct:+.1f}%" in page
    assert "20 of 20 series moved together" in page
    assert 'id="benchmark-changes"' in page and commits[30][:8] in page
    assert "order they were measured" in page
    md = text.markdown(rep)
    assert "### Machine events" in md and "### Benchmark changed" in md and f"`{commits[30][:8]}`" in md


def test_another_thread_count_is_named_where_the_series_start_again(tmp_path):
    """mdperf's suite names its version with the CPU thread count: the report, the site and the Markdown say which
    count the newest points were measured with, and where it changed, by name."""
    from mdperf import site
    from mdperf.regressions import report as text

    versions = ["mdperf-suite-2+threads1"] * 25 + ["mdperf-suite-2+threads2"] * 15
    rdir, commits = suite(tmp_path, n_series=2, versions=versions)
    rep = analyse(history.read(rdir))
    (b,) = rep.benchmark_changes
    assert b.commit == commits[25] and b.versions == "mdperf-suite-2+threads1 -> mdperf-suite-2+threads2"
    assert rep.suite_versions == {"runner": ["mdperf-suite-2+threads2"]}
    assert rep.to_dict()["suite_versions"] == {"runner": ["mdperf-suite-2+threads2"]}
    page = site.render(rep)
    assert 'id="suite-versions"' in page and "mdperf-suite-2+threads2" in page and "+threads1 -&gt; " in page
    assert "mdperf-suite-2+threads1 -&gt; mdperf-suite-2+threads2" in text.markdown(rep)  # ">" made inert
    # asv's own hashes of the code are no names: nothing said of them
    rdir2, _ = suite(tmp_path / "h", n_series=2, versions=["ab12"] * 25 + ["cd34"] * 15)
    rep2 = analyse(history.read(rdir2))
    assert rep2.suite_versions == {} and rep2.benchmark_changes[0].versions == ""
