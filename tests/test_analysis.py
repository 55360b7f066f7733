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


def test_cli_formats_and_exit_codes(results):
    repo, commits, rdir = results
    # The regression (commit 26) is older than the last new_window=5 commits: not new by default.
    p = mdperf("regressions", "--results", str(rdir), "--repo", str(repo))
    assert p.returncode == 0, p.stdout + p.stderr
    p = mdperf("regressions", "--results", str(rdir), "--repo", str(repo), "--format", "json", "--since", commits[20])
    assert p.returncode == 1, p.stderr
    data = json.loads(p.stdout)
    assert data["version"] == 1 and data["new_confirmed_regressions"] == 2 and data["since"] == commits[20]
    flag = data["flags"][0]
    for key in ("commit", "range_start", "benchmark", "params", "machine", "env", "unit", "kind", "state",
                "change_pct", "before", "after", "z", "p_value", "new", "graph"):
        assert key in flag
    p = mdperf("regressions", "--results", str(rdir), "--repo", str(repo), "--format", "markdown")
    assert "| commit | benchmark |" in p.stdout and f"`{commits[24][:8]}..{commits[26][:8]}`" in p.stdout
    p = mdperf("regressions", "--results", str(rdir), "--repo", str(repo), "--since", commits[30])
    assert p.returncode == 0, p.stdout  # nothing new after commit 30
    assert "REGRESSION" not in p.stdout and "regression" in p.stdout.lower()
    p = mdperf("regressions", "--results", str(rdir / "nope"))
    assert p.returncode == 2 and "cannot read results" in p.stderr
    p = mdperf("regressions", "--results", str(rdir), "--format", "xml")
    assert p.returncode == 2 and "unknown format" in p.stderr
