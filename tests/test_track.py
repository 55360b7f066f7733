"""`mdperf track` with real asv over a real temporary git repository holding a copy of this project.

Commits: old (an mdperf without the `prepare` step API the suite's `time_`/`peakmem_` need); base; slow (a
50 ms sleep injected in the torch pair potential's force call, about 25 times a normal step here, so that a busy
shared machine cannot hide it: 20 ms did not, when another asv run shared the 2 cores and the base commit's
median step read 32 ms); broken build; a missing dependency; both fixed (still slow).  One module-scoped run
of the quick profile feeds most tests (the asv environment is created once, about a minute).
"""

import json
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def git(repo, *args):
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def mdperf(repo, *args, timeout=1500):
    return subprocess.run([sys.executable, "-m", "mdperf.cli", *args], cwd=repo, capture_output=True, text=True,
                          timeout=timeout)


def commit_all(repo, message):
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    repo = tmp_path_factory.mktemp("tracked")
    for name in ("src", "benchmarks"):
        shutil.copytree(ROOT / name, repo / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("asv.conf.json", "README.md"):
        shutil.copy(ROOT / name, repo / name)
    pyproject = (ROOT / "pyproject.toml").read_text()
    pyproject = "\n".join(l for l in pyproject.splitlines() if not l.startswith("first_commit"))
    (repo / "pyproject.toml").write_text(pyproject + "\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "t@example.invalid")
    git(repo, "config", "user.name", "test")
    measurement = repo / "src" / "mdperf" / "measurement.py"
    current = measurement.read_text()
    old = current.replace("def prepare(", "def _prepare(").replace("prepared = prepare(case)", "prepared = _prepare(case)")
    assert old.count("_prepare(") == 2
    measurement.write_text(old)
    commits = {"old": commit_all(repo, "old mdperf without prepare")}
    measurement.write_text(current)
    commits["base"] = commit_all(repo, "base")
    pair = repo / "src" / "mdperf" / "calculators" / "torch_pair.py"
    src = pair.read_text()
    slow = src.replace("    def _compute(self, positions, cell, numbers, pbc, want_stress):\n",
                       "    def _compute(self, positions, cell, numbers, pbc, want_stress):\n"
                       "        __import__('time').sleep(0.05)\n", 1)
    assert slow != src
    pair.write_text(slow)
    commits["slow"] = commit_all(repo, "slow force call")
    pp = repo / "pyproject.toml"
    good = pp.read_text()
    pp.write_text(good.replace('build-backend = "setuptools.build_meta"', 'build-backend = "no_such_backend_mdperf"'))
    commits["broken"] = commit_all(repo, "broken build")
    pp.write_text(good)
    # Builds, but imports a package the environment lacks: every case fails, the commit is failed (not n/a).
    measurement.write_text(current + "\nimport mdperf_test_absent_dependency  # noqa: E402,F401\n")
    commits["dependency"] = commit_all(repo, "import a missing dependency")
    measurement.write_text(current)
    commits["fixed"] = commit_all(repo, "fix build and dependency")
    machine = f"mdperf-test-{uuid.uuid4().hex[:8]}"
    first = mdperf(repo, "track", "--last", "6", "--profile", "quick", "--machine", machine)
    return {"repo": repo, "commits": commits, "machine": machine, "first": first}


def results_for(history, commit):
    files = list((history["repo"] / ".asv" / "results" / history["machine"]).glob(f"{commit[:8]}-*.json"))
    assert len(files) == 1, files
    data = json.loads(files[0].read_text())
    i = data["result_columns"].index("result")
    return {name: row[i] for name, row in data["results"].items()}


def test_first_run_reports_the_failed_build_and_goes_on(history):
    p = history["first"]
    assert p.returncode == 1, p.stdout + p.stderr  # some commits failed
    assert "6 commit(s) to measure" in p.stdout
    assert "4 measured, 2 failed, 0 skipped" in p.stdout
    assert "site: " in p.stdout and "index.html" in p.stdout
    # what failed on the commit's own line, the log's path on a line of its own
    assert re.search(r"broken build: failed: build failed \([^)]*\)\n    log: \S+\.log\n", p.stdout), p.stdout
    ledger = json.loads((history["repo"] / ".asv" / "mdperf" / f"track-{history['machine']}.json").read_text())
    status = {c: e["status"] for c, e in ledger["commits"].items()}
    c = history["commits"]
    assert status == {c["old"]: "ok", c["base"]: "ok", c["slow"]: "ok", c["broken"]: "failed", c["dependency"]: "failed",
                      c["fixed"]: "ok"}
    assert ledger["commits"][c["broken"]]["reason"].startswith("build failed")
    assert ledger["commits"][c["dependency"]]["reason"].startswith(
        "the benchmark environment is broken: ModuleNotFoundError: No module named 'mdperf_test_absent_dependency'")


def test_results_for_every_commit_and_the_slow_one_is_slower(history):
    c = history["commits"]
    base, slow, fixed = (results_for(history, c[k]) for k in ("base", "slow", "fixed"))
    for res in (base, slow, fixed):
        assert res["md.Latency.track_latency_p50_ms"][0] > 0
        assert res["md.Step.time_md_step"][0] > 0
        assert res["md.Step.peakmem_md_run"][0] > 0
        # not on CUDA: n/a (NaN), never failed (None) and never a zero
        gpu = res["md.GpuMemory.track_gpu_peak_allocated_mib"][0]
        assert gpu != gpu
    assert slow["md.Latency.track_latency_p50_ms"][0] > base["md.Latency.track_latency_p50_ms"][0] + 10.0
    assert slow["md.Step.time_md_step"][0] > base["md.Step.time_md_step"][0] + 0.010
    assert fixed["md.Latency.track_latency_p50_ms"][0] > base["md.Latency.track_latency_p50_ms"][0] + 10.0
    for k in ("broken", "dependency"):
        assert all(v is None for v in results_for(history, c[k]).values()), k
    # An mdperf older than the suite: its step benchmarks are n/a (NaN), its track_ numbers still measured.
    old = results_for(history, c["old"])
    assert old["md.Step.time_md_step"][0] != old["md.Step.time_md_step"][0]
    assert old["md.Latency.track_latency_p50_ms"][0] > 0


def test_each_measured_run_records_what_the_machine_was(history):
    from mdperf import history as hist

    results = history["repo"] / ".asv" / "results"
    h = hist.read(results, history["repo"])
    runs = h.runs[history["machine"]]
    measured = {c for r in runs for c in r.commits}
    c = history["commits"]
    assert c["base"] in measured and c["slow"] in measured
    facts = [r.facts for r in runs if c["base"] in r.commits][0]
    assert facts["kernel"] and facts["cpu"]  # the facts the detector compares between runs
    lines = (results / history["machine"] / "mdperf-runs.jsonl").read_text().splitlines()
    assert {json.loads(line)["commit"] for line in lines} >= {c["base"], c["slow"], c["fixed"]}
    assert not {json.loads(line)["commit"] for line in lines} & {c["broken"], c["dependency"]}


def test_site_has_index_and_graphs(history):
    html = history["repo"] / ".asv" / "html"
    assert (html / "index.html").exists()
    index = json.loads((html / "index.json").read_text())
    assert "md.Latency.track_latency_p99_ms" in index["benchmarks"]
    graphs = list((html / "graphs").rglob("md.Latency.track_latency_p50_ms.json"))
    assert graphs, "no graph file for the p50 latency"
    assert any(history["machine"] in str(g) for g in graphs)
    machines = index["machines"]
    assert machines[history["machine"]]["torch"] == "2.13.0"
    assert machines[history["machine"]]["gpu"] == "none"


def test_rerun_skips_measured_commits(history):
    p = mdperf(history["repo"], "track", "--last", "6", "--profile", "quick", "--machine", history["machine"])
    assert p.returncode == 0, p.stdout + p.stderr
    assert "0 commit(s) to measure, 6 already measured" in p.stdout


def test_preview_serves_the_site(history):
    import re
    import urllib.request

    proc = subprocess.Popen([sys.executable, "-m", "mdperf.cli", "preview", "--port", "0"], cwd=history["repo"],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        port = re.search(r"127\.0\.0\.1:(\d+)", line).group(1)
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/mdperf.html", timeout=10).read().decode()
        assert "mdperf: changes commit by commit" in page
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_default_measures_only_new_commits_and_resumes_after_interrupt(history):
    import signal
    import time

    repo, machine = history["repo"], history["machine"]
    (repo / "NOTES.md").write_text("a new commit\n")
    new = commit_all(repo, "docs")
    ledger_path = repo / ".asv" / "mdperf" / f"track-{machine}.json"
    cmd = [sys.executable, "-m", "mdperf.cli", "track", "--profile", "quick", "--machine", machine]
    # A shell's background job inherits SIGINT ignored, and Python then never raises KeyboardInterrupt: the
    # child gets the default back, so the test holds however the suite was launched.
    proc = subprocess.Popen(cmd, cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # The suite appends a line to the commit's progress file as a case begins: asv is measuring the commit.
    progress = ledger_path.parent / "logs" / machine / f"{new[:12]}.progress"
    deadline = time.time() + 120
    while time.time() < deadline and not (progress.exists() and progress.read_text().strip()):
        time.sleep(0.2)
    assert progress.exists(), "asv never began to measure the new commit"
    assert json.loads(ledger_path.read_text())["commits"][new]["status"] == "running"
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    assert json.loads(ledger_path.read_text())["commits"][new]["status"] == "running"
    state = ledger_path.parent
    assert not list(state.glob(f"hashfile-{machine}-*.txt"))  # removed on the way out
    assert not list((state / "logs" / machine).glob("*.progress"))
    (state / f"hashfile-{machine}-999999.txt").write_text(new + "\n")  # what a kill -9 leaves
    # The next run picks up the interrupted commit, and only it.
    p = mdperf(repo, "track", "--profile", "quick", "--machine", machine)
    assert not (state / f"hashfile-{machine}-999999.txt").exists()
    assert p.returncode == 0, p.stdout + p.stderr
    assert "1 commit(s) to measure" in p.stdout and new[:10] in p.stdout
    assert json.loads(ledger_path.read_text())["commits"][new]["status"] == "ok"


@pytest.mark.parametrize(
    "args, message",
    [
        (["track", "nosuchbranch"], "unknown commit or branch 'nosuchbranch'"),
        (["track", "--profile", "huge"], "unknown profile 'huge'"),
        (["track", "--last", "0"], "--last must be > 0"),
    ],
)
def test_track_bad_input(history, args, message):
    p = mdperf(history["repo"], *args, "--machine", history["machine"])
    assert p.returncode == 2 and message in p.stderr and "Traceback" not in p.stderr


def test_track_outside_git_and_without_config(tmp_path):
    p = mdperf(tmp_path, "track")
    assert p.returncode == 2 and "not inside a git repository" in p.stderr
    git(tmp_path, "init", "-q")
    p = mdperf(tmp_path, "track")
    assert p.returncode == 2 and "no asv configuration" in p.stderr


# --- faults (docs/reference/faults.md); these add commits, so they run last ---------------------------------


def test_retry_failed_measures_the_failed_commits_again(history):
    repo, machine, c = history["repo"], history["machine"], history["commits"]
    p = mdperf(repo, "track", "--retry-failed", "--profile", "quick", "--machine", machine)
    assert "2 commit(s) to measure" in p.stdout, p.stdout + p.stderr
    assert c["broken"][:10] in p.stdout and c["dependency"][:10] in p.stdout
    assert p.returncode == 1  # they fail again: their own failures, recorded as such


def test_a_machine_fault_leaves_the_commit_unmeasured_and_exits_2(history):
    repo, machine = history["repo"], history["machine"]
    (repo / "NOTES.md").write_text("a commit measured while the results folder is broken\n")
    new = commit_all(repo, "notes")
    mdir = repo / ".asv" / "results" / machine
    aside = mdir.with_name(machine + ".aside")
    mdir.rename(aside)
    mdir.write_text("not a folder: asv cannot write results here")  # a fault root cannot bypass, as it can modes
    try:
        p = mdperf(repo, "track", "--profile", "quick", "--machine", machine)
    finally:
        mdir.unlink()
        aside.rename(mdir)
    assert p.returncode == 2, p.stdout + p.stderr
    assert "Nothing was recorded for it" in p.stderr and p.stderr.count("\n") == 1
    ledger = json.loads((repo / ".asv" / "mdperf" / f"track-{machine}.json").read_text())["commits"]
    assert new not in ledger  # unmeasured, not failed
    p = mdperf(repo, "track", "--profile", "quick", "--machine", machine)
    assert p.returncode == 0 and "1 commit(s) to measure" in p.stdout, p.stdout + p.stderr
    ledger = json.loads((repo / ".asv" / "mdperf" / f"track-{machine}.json").read_text())["commits"]
    assert ledger[new]["status"] == "ok"


def test_ending_track_at_the_benchmarking_phase_leaves_no_process(history, tmp_path):
    """asv gives every child its own process group, so its forkserver and the benchmarks it forks outlived the group
    kill; the session is what ends now.  Ten times, once benchmarking has begun (the forkserver up): kill -9,
    SIGINT, SIGTERM on mdperf — no process of asv's session is left."""
    import signal
    import time

    import psutil

    from mdperf import children

    repo, machine = history["repo"], history["machine"]
    (repo / "NOTES.md").write_text("a commit whose run is ended ten times\n")
    commit_all(repo, "notes again")
    for sig in [signal.SIGKILL] * 4 + [signal.SIGINT] * 3 + [signal.SIGTERM] * 3:
        log = tmp_path / f"track-{sig.name}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "mdperf.cli", "track", "--profile", "quick", "--machine",
                                     machine], cwd=repo, stdout=out, stderr=subprocess.STDOUT)
        def cmdline(p):  # a child that has just ended (a zombie, gone) has none
            try:
                return " ".join(p.cmdline())
            except psutil.Error:
                return ""

        session, server = None, None
        try:
            deadline = time.time() + 240
            while time.time() < deadline and server is None and proc.poll() is None:
                for child in psutil.Process(proc.pid).children():
                    if " asv run " in cmdline(child) + " ":
                        session = child.pid
                if session is not None:
                    server = next((p for p in children.members(session) if "run_server" in cmdline(p)), None)
                time.sleep(0.2)
            state = "ended" if proc.poll() is not None else "still running"
            assert server is not None, f"asv's forkserver never started (track {state}): {log.read_text()[-3000:]}"
            time.sleep(1)
            proc.send_signal(sig)
            proc.wait(timeout=60)
        finally:  # never leave a track running for the tests after this one
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        deadline = time.time() + 60
        while children.members(session) and time.time() < deadline:
            time.sleep(0.5)
        left = [(p.pid, p.cmdline()) for p in children.members(session)]
        assert not left, f"after {sig!r}: asv's session outlived mdperf track: {left}"


def test_a_commit_whose_own_package_is_missing_is_measured_again_before_it_is_recorded(history):
    """'No module named mdperf' right after asv installed it reads like a removal by another run: measured once
    more; missing again, it is the commit's packaging, recorded failed (never a fault that stops every night)."""
    repo, machine = history["repo"], history["machine"]
    pp = repo / "pyproject.toml"
    good = pp.read_text()
    pp.write_text(good.replace('where = ["src"]', 'where = ["src"]\nexclude = ["mdperf*"]'))  # builds, no mdperf
    dropped = commit_all(repo, "packaging that drops the package")
    pp.write_text(good)
    p = mdperf(repo, "track", dropped, "--profile", "quick", "--machine", machine)
    assert p.returncode == 1, p.stdout + p.stderr
    assert f"measuring {dropped[:10]} again: its own package vanished" in p.stdout, p.stdout
    ledger = json.loads((repo / ".asv" / "mdperf" / f"track-{machine}.json").read_text())["commits"]
    assert ledger[dropped]["status"] == "failed" and "No module named 'mdperf'" in ledger[dropped]["reason"]
