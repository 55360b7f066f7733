"""The regression pipeline over asv results, its settings and the `mdperf regressions` command."""

import json
import subprocess
import sys

import pytest

from mdperf import history
from mdperf.errors import UserError
from mdperf.regressions import analyse, config


def test_regression_attributed_to_range_of_unmeasured_commits(results):
    repo, commits, rdir = results
    rep = analyse(history.read(rdir, repo))
    regs = [(f.benchmark, f.params_text, f.kind, f.state) for f in rep.flags]
    assert ("md.Latency.track_latency_p50_ms", "calculator=torch-lj", "regression", "confirmed") in regs
    assert ("md.Latency.track_steps_per_s", "", "regression", "confirmed") in regs
    f = rep.flags[0]
    assert f.commit == commits[26] and f.range_start == commits[24]
    assert f.change_pct == pytest.approx(20, abs=3)
    assert f.graph.startswith("#md.Latency.track_")
    assert not any("emt" in x.params_text for x in rep.flags)


def test_config_file_and_overrides(tmp_path):
    cfg_file = tmp_path / "reg.toml"
    cfg_file.write_text('min_rel_change = 0.3\n[[override]]\npattern = "md.Latency.track_steps*"\nmin_rel_change = 0.01\n')
    cfg = config.load(cfg_file)
    assert cfg.for_benchmark("md.Latency.track_latency_p50_ms").min_rel_change == 0.3
    assert cfg.for_benchmark("md.Latency.track_steps_per_s").min_rel_change == 0.01
    cfg_file.write_text("min_rel_chnge = 0.3\n")
    with pytest.raises(UserError, match="unknown regression setting"):
        config.load(cfg_file)


def mdperf(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "mdperf.cli", *args], capture_output=True, text=True, cwd=cwd)


def test_settings_by_name_and_by_the_old_name_with_a_deprecation_line(results, tmp_path):
    repo, commits, rdir = results
    settings = tmp_path / "reg.toml"
    settings.write_text("min_rel_change = 0.5\n")  # nothing here moves by half: no flags
    base = ["regressions", "--results", str(rdir), "--repo", str(repo), "--format", "json", "--no-record"]
    flagged = json.loads(mdperf(*base).stdout)["flags"]
    assert flagged
    p = mdperf(*base, "--settings", str(settings))
    assert p.returncode == 0 and json.loads(p.stdout)["flags"] == [] and "deprecated" not in p.stderr, p.stderr
    p = mdperf(*base, "--config", str(settings))
    assert p.returncode == 0 and json.loads(p.stdout)["flags"] == [], p.stderr
    assert p.stderr.strip() == ("mdperf: warning: regressions --config is deprecated: it is --settings (the "
                                "regression settings, TOML)")


def test_cli_formats_and_exit_codes(results):
    repo, commits, rdir = results
    # The regression (commit 26) is older than the last new_window=5 commits: not new by default.
    p = mdperf("regressions", "--results", str(rdir), "--repo", str(repo))
    assert p.returncode == 0, p.stdout + p.stderr
    p = mdperf("regressions", "--results", str(rdir), "--repo", str(repo), "--format", "json", "--since", commits[20])
    assert p.returncode == 1, p.stderr
    data = json.loads(p.stdout)
    assert data["version"] == 5 and data["new_confirmed_regressions"] == 2 and data["since"] == commits[20]
    assert data["commits"] == 38  # the commits measured, not every commit of the repository
    flag = data["flags"][0]
    for key in ("commit", "range_start", "benchmark", "params", "machine", "env", "unit", "kind", "state",
                "change_pct", "before", "after", "z", "p_value", "new", "graph", "commits_at_level", "date",
                "subject"):
        assert key in flag
    assert flag["subject"] == "commit 26" and flag["date"].startswith("2023-11-")
    p = mdperf("regressions", "--results", str(rdir), "--repo", str(repo), "--format", "markdown")
    assert "| commit | date | subject | benchmark |" in p.stdout
    assert f"`{commits[24][:8]}..{commits[26][:8]}`" in p.stdout and "| commit 26 |" in p.stdout
    p = mdperf("regressions", "--results", str(rdir), "--repo", str(repo), "--since", commits[30])
    assert p.returncode == 0, p.stdout  # nothing new after commit 30
    assert "REGRESSION" not in p.stdout and "regression" in p.stdout.lower()
    p = mdperf("regressions", "--results", str(rdir / "nope"))
    assert p.returncode == 2 and "cannot read results" in p.stderr
    p = mdperf("regressions", "--results", str(rdir), "--format", "xml")
    assert p.returncode == 2 and "unknown format" in p.stderr


def test_a_confirmed_regression_alerts_once_whatever_its_position(results, tmp_path):
    repo, commits, rdir = results
    record = tmp_path / "reported.json"
    # Commit 26's regression is 14 commits old: outside the last-5 window, but never alerted before.
    p = mdperf("regressions", "--results", str(rdir), "--repo", str(repo), "--record", str(record),
               "--format", "json")
    assert p.returncode == 1, p.stderr
    assert json.loads(p.stdout)["new_confirmed_regressions"] == 2 and record.exists()
    p = mdperf("regressions", "--results", str(rdir), "--repo", str(repo), "--record", str(record),
               "--format", "markdown")
    assert p.returncode == 0, p.stdout + p.stderr  # alerted once, never again
    assert "**no new confirmed regression**" in p.stdout
    # --since keeps working, record or not.
    p = mdperf("regressions", "--results", str(rdir), "--repo", str(repo), "--record", str(record),
               "--since", commits[20])
    assert p.returncode == 1


def test_one_failing_series_is_a_problem_line_and_an_internal_error_exits_3(results):
    repo, commits, rdir = results
    code = ("import sys\nimport mdperf.regressions.analysis as a\nreal = a.detect\n"
            "def detect(values, **kw):\n"
            "    if len(values) and values[0] > 50: raise ValueError('need at least one array to concatenate')\n"
            "    return real(values, **kw)\n"
            "a.detect = detect\nfrom mdperf.cli import main\n"
            f"sys.exit(main(['regressions', '--results', {str(rdir)!r}, '--repo', {str(repo)!r}, "
            "'--format', 'json', '--no-record']))\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    data = json.loads(p.stdout)
    # steps_per_s (about 100) fails; the latency series are still analysed and reported.
    assert any("track_steps_per_s" in x["path"] and "analysis failed: ValueError: need at least one array"
               in x["reason"] for x in data["problems"])
    assert any(f["benchmark"] == "md.Latency.track_latency_p50_ms" for f in data["flags"])
    code = ("import sys\nimport mdperf.regressions.analysis as a\n"
            "def boom(*a, **k): raise RuntimeError('a bug')\n"
            "a.analyse = boom\nfrom mdperf.cli import main\n"
            f"sys.exit(main(['regressions', '--results', {str(rdir)!r}]))\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 3 and "internal error: RuntimeError: a bug" in p.stderr and "Traceback" not in p.stderr


def test_failed_runs_are_a_range_in_date_order_too(tmp_path):
    from histories import lat_series, write_asv_results

    commits = [f"{i:08x}" + "a" * 32 for i in range(40)]
    v = lat_series(40, step_at=26)
    values = [[None] if i in (24, 25) else [float(v[i])] for i in range(40)]  # two failed runs
    write_asv_results(tmp_path / "r", "m", commits, {"md.T.track_x": dict(
        params=[["'a'"]], param_names=["calculator"], unit="ms", values=values)})
    rep = analyse(history.read(tmp_path / "r", None))
    (f,) = [f for f in rep.flags if f.kind == "regression"]
    assert rep.ordered_by == "date" and (f.range_start, f.commit) == (commits[24], commits[26])


def test_readable_off_a_terminal_with_units_dates_and_suspected_apart(tmp_path):
    from histories import make_repo, noisy, write_asv_results

    repo, commits = make_repo(tmp_path, 30)
    mem = noisy(30, cv=0.001, base=3 * 2**30)
    mem[15:] *= 1.3
    lat = noisy(30, cv=0.01)
    lat[-1] *= 1.5  # one slow newest commit: suspected, to watch
    long_name = "md.SomeVeryLongBenchmarkClassName.peakmem_a_benchmark_with_a_long_name_indeed"
    write_asv_results(tmp_path / "r", "machine-with-a-long-name-cuda12.4-driver550", commits, {
        long_name: dict(params=[["'torch-lj'"]], param_names=["calculator"], unit="bytes",
                        values=[[float(x)] for x in mem]),
        "md.T.track_count": dict(params=[], param_names=[], unit="unit", values=[float(x) for x in lat])})
    p = mdperf("regressions", "--results", str(tmp_path / "r"), "--repo", str(repo), "--no-record")
    out = p.stdout
    assert p.returncode == 0, out + p.stderr  # commit 15 is older than the last 5: not new without a record
    assert long_name in out and "commit 15" in out  # never cut at 80 columns in a pipe
    assert "GiB" in out and " unit" not in out.replace("track_count", "")
    assert "30 measured commits" in out
    watch = out.split("To watch")[1]
    assert "md.T.track_count" in watch and "md.T.track_count" not in out.split("To watch")[0]
