"""Results kept on a branch (`mdperf results pull|push`), against a local bare repository standing in for the
remote: two machines push in turn (the second after the first, so it builds on top), a third checkout pulls,
and the regression report over the pulled folder holds both machines' series."""

import json
import subprocess
import sys

import numpy as np

from histories import make_repo, write_asv_results

ROOT_CONF = {"version": 1, "project": "demo", "repo": ".", "branches": ["main"], "environment_type": "virtualenv",
             "results_dir": ".asv/results", "html_dir": ".asv/html", "env_dir": ".asv/env"}


def git(repo, *args):
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def mdperf(repo, *args):
    return subprocess.run([sys.executable, "-m", "mdperf.cli", *args], cwd=repo, capture_output=True, text=True,
                          timeout=300)


def remote_and_clones(tmp_path, n_commits, names):
    """A repository with an asv configuration, its bare copy standing in for the remote, and clones of it."""
    src, commits = make_repo(tmp_path, n_commits)
    (src / "asv.conf.json").write_text(json.dumps(ROOT_CONF))
    git(src, "add", "asv.conf.json")
    git(src, "commit", "-qm", "asv config")
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(src), str(remote))
    clones = {name: tmp_path / f"clone-{name}" for name in names}
    for clone in clones.values():
        git(tmp_path, "clone", "-q", str(remote), str(clone))
    return src, commits, remote, clones


def test_two_machines_push_and_a_third_checkout_pulls_both(tmp_path):
    src, commits, remote, clones = remote_and_clones(tmp_path, 20, ("a", "b", "c"))
    rng = np.random.default_rng(0)
    for machine in ("a", "b"):
        lat = 10 * np.exp(rng.normal(0, 0.01, 20))
        lat[12:] *= 1.3
        write_asv_results(clones[machine] / ".asv" / "results", f"runner-{machine}", commits, {
            "md.Latency.track_latency_p50_ms": dict(params=[], param_names=[], unit="ms",
                                                    values=[[float(x)] for x in lat])})
    p = mdperf(clones["c"], "results", "pull", "--machine", "runner-c")
    assert p.returncode == 0 and "holds no results yet" in p.stdout, p.stderr
    pa = mdperf(clones["a"], "results", "push", "--machine", "runner-a")
    assert pa.returncode == 0, pa.stderr
    pb = mdperf(clones["b"], "results", "push", "--machine", "runner-b")  # on top of a's commit
    assert pb.returncode == 0, pb.stderr
    files = git(remote, "ls-tree", "-r", "--name-only", "mdperf-results").splitlines()
    assert any(f.startswith("results/runner-a/") for f in files) and any(f.startswith("results/runner-b/") for f in files)
    assert "results/benchmarks.json" in files
    assert len(git(remote, "rev-list", "mdperf-results").splitlines()) == 2
    p = mdperf(clones["c"], "results", "pull", "--machine", "runner-c")
    assert p.returncode == 0 and "added" in p.stdout, p.stderr
    p = mdperf(clones["c"], "regressions", "--format", "json", "--no-record")
    flags = json.loads(p.stdout)["flags"]
    assert {f["machine"] for f in flags if f["kind"] == "regression"} == {"runner-a", "runner-b"}
    assert all(f["commit"] == commits[12] for f in flags if f["kind"] == "regression")
    # A second push with nothing new adds no commit; the main branch was never touched.
    assert mdperf(clones["a"], "results", "push", "--machine", "runner-a").returncode == 0
    assert len(git(remote, "rev-list", "mdperf-results").splitlines()) == 2
    assert git(remote, "rev-parse", "main") == git(src, "rev-parse", "main")


def test_pull_keeps_this_machines_own_files(tmp_path):
    src, commits, remote, clones = remote_and_clones(tmp_path, 4, ("a",))
    a = clones["a"]
    bench = {"b.time_x": dict(params=[], param_names=[], unit="seconds", values=[[1.0]] * 4)}
    write_asv_results(a / ".asv" / "results", "m", commits, bench)
    assert mdperf(a, "results", "push", "--machine", "m").returncode == 0
    mine = next((a / ".asv" / "results" / "m").glob("*-*.json"))
    mine.write_text(mine.read_text().replace("1.0", "2.0"))  # measured again here since the push
    p = mdperf(a, "results", "pull", "--machine", "m")
    assert p.returncode == 0 and "1 of machine m kept" in p.stdout, p.stdout
    assert "2.0" in mine.read_text()
    p = mdperf(a, "results", "push", "--remote", "nowhere", "--machine", "m")
    assert p.returncode == 2 and p.stderr.startswith("mdperf: error: cannot fetch")
