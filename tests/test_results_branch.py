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


def test_a_read_only_runner_hands_its_results_on_and_the_record_travels_with_the_branch(tmp_path):
    """The nightly's split: a runner without credentials reads the branch as its checkout fetched it and exports;
    the job that may push merges the export, writes the record of alerts and pushes both; a fresh checkout
    pulls the record (and its fixes) back."""
    src, commits, remote, clones = remote_and_clones(tmp_path, 30, ("gpu", "hosted", "next"))
    gpu, hosted, nxt = clones["gpu"], clones["hosted"], clones["next"]
    lat = np.full(30, 10.0) * np.exp(np.random.default_rng(1).normal(0, 0.005, 30))
    lat[10:20] *= 1.4  # a regression at commit 10, fixed at 20
    write_asv_results(gpu / ".asv" / "results", "gpu-1", commits, {
        "md.Latency.track_latency_p50_ms": dict(params=[], param_names=[], unit="ms",
                                                values=[[float(x)] for x in lat])})
    p = mdperf(gpu, "results", "pull", "--no-fetch", "--machine", "gpu-1")  # no branch yet: nothing to read
    assert p.returncode == 0 and "holds no results yet" in p.stdout
    out = tmp_path / "artifact"
    assert mdperf(gpu, "results", "export", str(out), "--machine", "gpu-1").returncode == 0
    assert (out / "gpu-1").is_dir() and (out / "benchmarks.json").is_file()
    p = mdperf(hosted, "results", "merge", str(out))
    assert p.returncode == 0 and "gpu-1" in p.stdout, p.stderr
    issues = tmp_path / "issues"
    p = mdperf(hosted, "regressions", "--format", "markdown", "--issues", str(issues))
    assert p.returncode == 1, p.stdout + p.stderr
    assert (issues / f"regression-{commits[10]}.md").exists()
    assert (issues / f"fixed-{commits[10]}.md").exists() and (issues / f"fixed-{commits[10]}.close").exists()
    p = mdperf(hosted, "results", "push", "--all")
    assert p.returncode == 0 and "gpu-1" in p.stdout, p.stderr
    record = json.loads(git(remote, "show", "mdperf-results:mdperf/reported-regressions.json"))
    (entry,) = record["series"].values()
    assert entry[0]["commit"] == commits[10] and entry[0]["fixed"] == commits[20]
    # A fresh checkout: its pull brings the record, so nothing is alerted again.
    git(nxt, "fetch", "-q", "origin")
    p = mdperf(nxt, "results", "pull", "--no-fetch", "--machine", "gpu-1")
    assert p.returncode == 0 and "1 reported regression(s) added to the record" in p.stdout, p.stdout
    again = tmp_path / "issues-2"
    p = mdperf(nxt, "regressions", "--format", "markdown", "--issues", str(again))
    assert p.returncode == 0 and list(again.iterdir()) == [], p.stdout


def test_results_commands_refuse_bad_input_in_one_line(tmp_path):
    src, commits, remote, clones = remote_and_clones(tmp_path, 3, ("a",))
    a = clones["a"]
    for args, message in ((("export",), "export takes one folder"), (("merge",), "merge takes the exported"),
                          (("merge", str(tmp_path / "none")), "no such folder"),
                          (("merge", str(tmp_path)), "no machine folder"), (("push", "--no-fetch"), "for pull"),
                          (("pull", "--all"), "for push"), (("export", str(tmp_path / "x"), "--machine", "m"),
                                                           "no results of machine")):
        p = mdperf(a, "results", *args)
        assert p.returncode == 2 and message in p.stderr and p.stderr.count("\n") == 1, (args, p.stderr)


def test_a_link_or_a_broken_file_on_the_branch_is_left_out_and_publish_still_works(tmp_path):
    src, commits, remote, clones = remote_and_clones(tmp_path, 4, ("a", "b"))
    a, b = clones["a"], clones["b"]
    bench = {"b.time_x": dict(params=[], param_names=[], unit="seconds", values=[[1.0]] * 4)}
    write_asv_results(a / ".asv" / "results", "m", commits, bench)
    assert mdperf(a, "results", "push", "--machine", "m").returncode == 0
    # Another runner (or an attacker with push rights) adds a link out of the results and a file that is no UTF-8.
    work = tmp_path / "branch"
    git(tmp_path, "clone", "-q", "--branch", "mdperf-results", str(remote), str(work))
    (work / "results" / "m" / "evil.json").symlink_to("/etc/passwd")
    (work / "results" / "m" / "0badbeef-virtualenv-py3.11.json").write_bytes(b'{"commit_hash": "\xff\xfe"}')
    git(work, "add", "-A")
    git(work, "-c", "user.email=x@example.invalid", "-c", "user.name=x", "commit", "-qm", "bad entries")
    git(work, "push", "-q", "origin", "mdperf-results")
    p = mdperf(b, "results", "pull", "--machine", "other")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "skipped results/m/evil.json: a link; left out" in p.stdout
    assert not (b / ".asv" / "results" / "m" / "evil.json").exists()
    # the file that is no UTF-8 came (a regular file): asv publish is never handed it, the report names it
    assert (b / ".asv" / "results" / "m" / "0badbeef-virtualenv-py3.11.json").exists()
    p = mdperf(b, "publish")
    assert p.returncode == 0 and "Traceback" not in p.stdout + p.stderr, p.stdout + p.stderr
    assert (b / ".asv" / "html" / "index.html").exists()
    p = mdperf(b, "regressions", "--format", "json", "--no-record")
    problems = json.loads(p.stdout)["problems"]
    assert any("0badbeef" in x["path"] and "UnicodeDecodeError" in x["reason"] for x in problems), problems
