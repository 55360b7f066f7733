"""`mdperf track`'s live detail: the suite's own progress lines (written by mdperf.suite.benchmarks while asv's log
says only "Setting up suite.benchmarks") read back into which case runs, a re-measurement, and the time left."""

import json
import time

import pytest

from mdperf import guard, progress
from mdperf.suite import benchmarks as suite
from mdperf.suite.config import PROGRESS_ENV


@pytest.fixture
def events(tmp_path, monkeypatch):
    path = tmp_path / "commit.progress"
    monkeypatch.setenv(PROGRESS_ENV, str(path))
    return path


def test_the_case_that_runs_and_a_re_measurement_are_said(events):
    watch = progress.CommitProgress(events, 0, 3, [])
    assert watch() == ("", "")  # nothing written yet: no case, no guess
    suite._progress(event="case", k=1, n=4, case="torch-lj at 256 atoms on cpu")
    assert watch()[0] == "case 1/4: torch-lj at 256 atoms on cpu"
    suite._progress(event="again", why="the calibration loop got 45% of a core")
    assert watch()[0] == ("case 1/4: torch-lj at 256 atoms on cpu, measured again: the machine was busy "
                          "(the calibration loop got 45% of a core)")
    suite._progress(event="done", k=1, n=4, status="ok")
    suite._progress(event="case", k=2, n=4, case="torch-nn at 256 atoms on cpu")
    what, left = watch()
    assert what == "case 2/4: torch-nn at 256 atoms on cpu"  # the re-measurement belonged to case 1
    assert left.startswith("about ") and left.endswith("left for 3 commit(s)")


def test_the_estimate_comes_from_the_cases_then_from_the_commits_done(events):
    now = time.time()
    lines = [{"t": now - 40, "event": "case", "k": 1, "n": 4, "case": "a"},
             {"t": now - 20, "event": "done", "k": 1, "n": 4}]
    events.write_text("".join(json.dumps(e) + "\n" for e in lines) + '{"t": 1, "event": "ca')  # a line being written
    first = progress.CommitProgress(events, 0, 2, [])
    first.start = now - 50  # 10 s before the first case (build, install), then 20 s a case
    per_commit = first.commit_estimate_s(progress.read(events), now)
    assert per_commit == pytest.approx(10 + 4 * 20, abs=0.5)
    assert first()[1] == f"about {progress.minutes(per_commit - 50 + per_commit)} left for 2 commit(s)"
    later = progress.CommitProgress(events, 1, 3, [600.0, 300.0])  # the commits done say 450 s each
    later.start = now - 100
    assert later()[1] == "about 13 min left for 2 commit(s)"  # 350 s of this one + 450 s of the last


def test_a_commit_of_an_older_mdperf_writes_nothing_and_only_the_time_is_said(events):
    assert progress.CommitProgress(events, 1, 2, [120.0])() == ("", "about 2 min left for 1 commit(s)")


def test_busy_signs_from_the_step_times_alone():
    quiet = [1.0 + 0.01 * (i % 7) for i in range(200)]
    assert guard.busy_signs(quiet) == ""
    tail = quiet[:190] + [5.0] * 10  # the slowest 5 % took 5x: another process took the core
    assert guard.busy_signs(tail) == "P99 is 4.9x the median"  # 5.0 over a median of 1.03
    spread = [1.0 if i % 2 else 2.0 for i in range(200)]
    assert guard.busy_signs(spread) == "the middle half of the steps spans 67% of the median"  # 1.0 / 1.5
    assert guard.busy_signs(tail[:10]) == ""  # too few steps to say
