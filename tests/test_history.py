"""Reading asv result folders into series (mdperf.history over mdperf.asvresults)."""

import json

from histories import make_repo
from histories import write_asv_results as write_results
from mdperf import history
from mdperf.regressions import analyse


def test_order_by_dates_without_repo(results):
    repo, commits, rdir = results
    rep = analyse(history.read(rdir, None))
    assert rep.ordered_by == "date"
    assert rep.flags[0].commit == commits[26] and rep.flags[0].range_start is None


def test_robust_to_bad_files(results, tmp_path):
    repo, commits, rdir = results
    m = rdir / "runner-a"
    (m / "deadbeef-corrupt.json").write_text('{"commit_hash": "dead", "results": {')
    (m / "cafebabe-future.json").write_text(json.dumps({"commit_hash": "cafe", "version": 99, "results": {}}))
    write_results(rdir, "runner-b", commits[:1], {  # a second machine with a single point
        "md.Latency.track_latency_p50_ms": dict(params=[["'torch-lj'"]], param_names=["calculator"], unit="ms",
                                                values=[[1.0]]),
        "md.Energy.track_drift_mev_per_atom_ps": dict(params=[], param_names=[], unit="meV/atom/ps", values=[None]),
    })
    h = history.read(rdir, repo)
    rep = analyse(h)
    problems = [(p.path, p.reason) for p in rep.problems]
    assert any(p.endswith("deadbeef-corrupt.json") and r.startswith("unreadable result file: JSONDecodeError")
               for p, r in problems)
    assert any(p.endswith("cafebabe-future.json") and "unknown result format version 99" in r for p, r in problems)
    assert any("track_drift" in p and "all 1 values failed" in r for p, r in problems)
    assert any("runner-b" in p and "only 1 point" in r for p, r in problems)
    machines = {s.machine for s in h.series}
    assert machines == {"runner-a", "runner-b"}
    assert rep.flags  # the good series still analysed


def test_parameters_changed_between_commits(tmp_path):
    repo, commits = make_repo(tmp_path, 10)
    write_results(tmp_path / "r", "m", commits[:5], {"b.track_x": dict(
        params=[["1", "2"]], param_names=["n"], unit="ms", values=[[1.0, 2.0]] * 5)})
    write_results(tmp_path / "r2", "m", commits[5:], {"b.track_x": dict(
        params=[["1", "3"]], param_names=["n"], unit="ms", values=[[1.0, 3.0]] * 5)})
    for f in (tmp_path / "r2" / "m").glob("*-*.json"):
        f.rename(tmp_path / "r" / "m" / f.name)
    h = history.read(tmp_path / "r", repo)
    assert {s.params["n"] for s in h.series} == {"1", "2", "3"}
    assert any("parameters changed between commits" in p.reason for p in h.problems)


def test_commits_git_does_not_know_are_ordered_the_same_in_every_process(tmp_path):
    # Ties of date were broken by set order, which Python's hash seed changes from process to process.
    import os
    import subprocess
    import sys

    repo, _ = make_repo(tmp_path, 2)
    commits = [f"{i:08x}" + "0" * 32 for i in range(1, 30)]
    write_results(tmp_path / "r", "m", commits, {"b.track_x": dict(params=[], param_names=[], unit="ms",
                                                                   values=[1.0] * len(commits))},
                  dates=[1_700_000_000_000] * len(commits))
    code = f"from mdperf import history; print(history.read({str(tmp_path / 'r')!r}, {str(repo)!r}).order)"
    orders = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout for seed in range(4)}
    assert len(orders) == 1


def test_an_environment_is_named_by_its_python_and_pins_where_a_person_reads_it():
    from mdperf.history import Series, short_env

    env = "virtualenv-py3.11-ase-numpy-nvidia-ml-py-psutil-rich-scipy-setuptools-torch2.13.0-vesin-vesin-torch-wheel"
    assert short_env(env) == "py3.11 torch2.13.0 …"
    assert short_env("virtualenv-py3.12-torch2.13.0") == "py3.12 torch2.13.0"
    assert short_env("existing-py_usr_bin_python") == "existing-py_usr_bin_python"  # not asv's usual shape: as is
    s = Series("md.Latency.track_latency_p50_ms", {"atoms": "256"}, "runner", env, "ms", False)
    assert s.label == "md.Latency.track_latency_p50_ms(atoms=256) @ runner / py3.11 torch2.13.0 …"
    assert s.key.endswith(env)  # the identity (the alert record's) keeps the whole name


def test_values_that_are_no_measurement_are_problems_not_points(tmp_path):
    from histories import write_asv_results
    from mdperf import history

    commits = [f"{i:08x}" + "a" * 32 for i in range(6)]
    write_asv_results(tmp_path, "m", commits, {
        "b.time_x": dict(params=[], param_names=[], unit="seconds",
                         values=[[1.0], [0.0], [-2.0], ["fast"], [float("inf")], [float("nan")]]),
        "b.track_y": dict(params=[], param_names=[], unit="unit", values=[[0.0], [True], [1.0], [2.0], [3.0], [4.0]])})
    h = history.read(tmp_path)
    x = next(s for s in h.series if s.benchmark == "b.time_x")
    assert x.values == [1.0] and x.skipped == 1  # NaN is asv's n/a; 0 s, -2 s, a string, inf are not times
    y = next(s for s in h.series if s.benchmark == "b.track_y")
    assert y.values == [0.0, 1.0, 2.0, 3.0, 4.0]  # a track may be 0; a boolean is no value
    reasons = {p.path.split("(")[0]: p.reason for p in h.problems}
    assert reasons["b.time_x"].startswith("4 value(s) that are not measurements left out (0.0 at 00000001")
    assert reasons["b.track_y"].startswith("1 value(s) that are not measurements left out (True at")


def test_a_result_nested_too_deep_is_a_problem_not_a_crash(tmp_path):
    from histories import write_asv_results
    from mdperf import history

    commits = [f"{i:08x}" + "a" * 32 for i in range(2)]
    write_asv_results(tmp_path, "m", commits, {"b.time_x": dict(params=[], param_names=[], unit="seconds",
                                                                 values=[[1.0], [1.0]])})
    (tmp_path / "m" / "deadbeef-env.json").write_text("[" * 100_000 + "]" * 100_000)
    h = history.read(tmp_path)
    assert any("deadbeef" in p.path and "nested too deep" in p.reason for p in h.problems), h.problems
