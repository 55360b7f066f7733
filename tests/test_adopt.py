"""Track your own calculator: `mdperf init` and `mdperf track` over a real calculator repository with real asv —
the commands of docs/adopting.md, in its order.

The repository (benchmarks/eval/calc_repo.py): a numpy Lennard-Jones package `mycalc` with a factory
`mycalc:make`, 15 commits plus the one that adds mdperf's files; every force computed twice from commit 5 to 9
(+100 %), fixed at 10; at commit 2 the package raises on import.
"""

import json
import os
import re
import subprocess
import uuid
from pathlib import Path

import pytest
from benchmarks.eval.calc_repo import make_calc_repo

import walkthrough

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def mdperf(repo, *args, timeout=1800):
    # A heartbeat every 2 s instead of 30, so that the log of a short run shows it.
    return walkthrough.mdperf(repo, *args, timeout=timeout, env={**os.environ, "MDPERF_HEARTBEAT_S": "2"})


@pytest.fixture(scope="module")
def adopted(tmp_path_factory):
    repo = tmp_path_factory.mktemp("adopter") / "mycalc"
    info = make_calc_repo(repo)
    machine = f"adopt-{uuid.uuid4().hex[:8]}"
    # regressions: 4 when the machine was too busy to judge (said on its first line; the tests below skip)
    outputs = walkthrough.walk(repo, "walk-through", machine, env={**os.environ, "MDPERF_HEARTBEAT_S": "2"},
                               accept=lambda args, p: p.returncode in ((0, 1, 4) if args[:2] == ["mdperf", "regressions"]
                                                                       else (0, 1)))
    return {"repo": repo, "machine": machine, "outputs": outputs, **info}


def test_init_writes_the_suite_and_says_what_next(adopted):
    repo, out = adopted["repo"], adopted["outputs"]["mdperf init"].stdout
    for name in ("asv.conf.json", "benchmarks/md.py", "pyproject.toml", ".gitignore"):
        assert f"wrote {name}" in out
    assert "next: " in out and "mdperf track" in out
    assert "from mdperf.suite.benchmarks import *" in (repo / "benchmarks" / "md.py").read_text()
    assert 'calculators = ["mycalc:make"]' in (repo / "pyproject.toml").read_text()
    conf = (repo / "asv.conf.json").read_text()
    assert '"project": "mycalc"' in conf and '"mdperf": "' in conf and '"numpy": ""' in conf
    # The package's own files are untouched above the appended table.
    assert (repo / "pyproject.toml").read_text().startswith("[build-system]")


def test_track_says_what_it_is_doing_while_it_works(adopted):
    out = adopted["outputs"]["mdperf track"].stdout
    assert "creating the benchmark environment (asv setup" in out
    assert f"measuring {adopted['slow'][:10]} (" in out
    # plain lines in a log, with the elapsed time, the case being measured (the suite's progress) and the time left
    assert re.search(r"measuring [0-9a-f]{10} \(\d+/16\) .* — \d+ min \d\d s — case 1/1: mycalc:make at \d+ atoms "
                     r"on cpu", out), out[-3000:]
    assert re.search(r"about \d+ (s|min) left for \d+ commit\(s\)", out), out[-3000:]


def test_every_commit_measured_the_broken_one_failed_with_why(adopted):
    out = adopted["outputs"]["mdperf track"].stdout
    assert re.search(r"15 measured, 1 failed", out), out
    ledger = json.loads((adopted["repo"] / ".asv" / "mdperf" / f"track-{adopted['machine']}.json").read_text())
    broken = ledger["commits"][adopted["broken"]]
    assert broken["status"] == "failed"
    assert "cannot import 'mycalc'" in broken["reason"] and "broken at this commit" in broken["reason"]
    assert all(ledger["commits"][c]["status"] == "ok" for c in adopted["commits"] if c != adopted["broken"])
    assert (adopted["repo"] / ".asv" / "html" / "index.html").exists()
    assert (adopted["repo"] / ".asv" / "html" / "mdperf.html").exists()


def stall_the_guard_missed(adopted) -> str:
    """A step-time reading outside the slow commits 30 % above the others' median: a stall of the machine that
    the guard's before/after loops did not see (a burst of load during the case alone).  "" when none."""
    from mdperf import history

    h = history.read(adopted["repo"] / ".asv" / "results", adopted["repo"])
    order = [c for c in h.order]
    slow = set(order[order.index(adopted["slow"]):order.index(adopted["fixed"])])
    for s in h.series:
        if s.machine != adopted["machine"] or not s.benchmark.endswith("track_latency_p50_ms"):
            continue
        normal = [(c, v) for c, v in zip(s.commits, s.values) if c not in slow]
        level = sorted(v for _, v in normal)[len(normal) // 2]
        odd = [(c, v) for c, v in normal if v > 1.3 * level]
        if odd:
            return f"{odd[0][0][:8]} read {100 * (odd[0][1] / level - 1):+.0f}% on unchanged code"
    return ""


def guard_busy(adopted) -> str:
    """The guard's count over the adopted machine's cases when it marked any noisy ("" when none)."""
    from mdperf import history
    from mdperf.regressions.coverage import busy_text

    h = history.read(adopted["repo"] / ".asv" / "results", adopted["repo"])
    return busy_text(h, adopted["machine"], h.order)


def test_regressions_name_the_slow_commit_and_its_fix(adopted):
    p = mdperf(adopted["repo"], "regressions", "--format", "json", "--no-record")
    data = json.loads(p.stdout)
    if p.returncode == 4:  # said out loud, never a silent wrong answer: the machine was too busy to judge
        pytest.skip("the machine was busy while the history was measured: "
                    + "; ".join(f"{c['machine']}: {c['busy'] or c['left_out']}" for c in data["coverage"]))
    flags = data["flags"]
    latency = [f for f in flags if f["benchmark"] == "md.Latency.track_latency_p50_ms" and f["state"] == "confirmed"]
    busy = [c["busy"] for c in data["coverage"] if c["busy"]]
    if [(f["commit"], f["kind"]) for f in latency] != [(adopted["fixed"], "improvement"),
                                                        (adopted["slow"], "regression")]:
        if busy:
            pytest.skip(f"the machine was busy while the history was measured ({busy[0]}): {len(latency)} flags")
        if stall_the_guard_missed(adopted):
            pytest.skip(f"a stall the guard did not see: {stall_the_guard_missed(adopted)}")
    assert [(f["commit"], f["kind"]) for f in latency] == [(adopted["fixed"], "improvement"),
                                                            (adopted["slow"], "regression")], latency
    assert latency[1]["change_pct"] > 25


def test_mdperf_in_the_environment_is_the_same_wheel_for_every_commit(adopted):
    from mdperf.suite import wheelhouse

    if wheelhouse.source_dir() is None:
        pytest.skip("mdperf is installed from an index here: the environment pins it instead of a wheelhouse")
    envs = list((adopted["repo"] / ".asv" / "env").glob("*/mdperf-wheel.sha256"))
    assert len(envs) == 1  # installed once, into the one environment
    wheels = list((adopted["repo"] / ".asv" / "mdperf" / "wheelhouse").glob("mdperf-*.whl"))
    assert len(wheels) == 1


def test_the_nightlys_steps_in_order_over_a_bare_remote(adopted, tmp_path):
    """The steps of .github/workflows/nightly.yml (docs/ci.md), against a local bare repository standing in for
    GitHub: two machines track and hand their results on (export, as artifacts); a third job pulls the results
    branch, merges them, publishes, writes the issue texts and pushes; the next night names nothing again."""
    repo = adopted["repo"]
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(remote)], check=True)
    subprocess.run(["git", "remote", "add", "origin", str(remote)], cwd=repo, check=True)
    subprocess.run(["git", "fetch", "-q", "origin"], cwd=repo, check=True)
    # GPU jobs (read-only): results branch as the checkout fetched it, track, export.  Machine A tracked the
    # whole history in the fixture; machine B, a second runner, measures the newest commits.
    p = mdperf(repo, "results", "pull", "--no-fetch", "--machine", "runner-b")
    assert p.returncode == 0 and "holds no results yet" in p.stdout, p.stderr
    p = mdperf(repo, "track", "--last", "2", "--machine", "runner-b")
    assert p.returncode == 0, p.stdout + p.stderr
    exports = []
    for machine in (adopted["machine"], "runner-b"):
        exports.append(tmp_path / f"artifact-{machine}")
        p = mdperf(repo, "results", "export", str(exports[-1]), "--machine", machine)
        assert p.returncode == 0, p.stderr

    def publish_job(name):
        clone = tmp_path / name
        subprocess.run(["git", "clone", "-q", str(remote), str(clone)], check=True)
        for args in (("results", "pull"), ("results", "merge", *map(str, exports)), ("publish",)):
            p = mdperf(clone, *args)
            assert p.returncode == 0, f"{args}: {p.stdout}{p.stderr}"
        issues = tmp_path / f"issues-{name}"
        p = mdperf(clone, "regressions", "--format", "markdown", "--issues", str(issues), "--site-url",
                   "https://example.invalid/site/")
        summary = p
        p = mdperf(clone, "results", "push", "--all")
        assert p.returncode == 0, p.stderr
        return clone, summary, issues

    clone, summary, issues = publish_job("night-1")
    if summary.returncode == 4:  # said out loud: the fixture's machine was too busy to judge its history
        pytest.skip(f"the machine was busy while the history was measured: {summary.stdout.splitlines()[2:5]}")
    if summary.returncode != 1 and stall_the_guard_missed(adopted):
        pytest.skip(f"a stall the guard did not see: {stall_the_guard_missed(adopted)}")
    body_path = issues / f"regression-{adopted['slow']}.md"
    named = body_path.exists() and "track_latency_p50_ms" in body_path.read_text()
    if (summary.returncode != 1 or not named) and guard_busy(adopted):
        # The step time's points were marked noisy: weaker evidence, to watch, not in the night's issue.
        pytest.skip(f"the machine was busy while the history was measured ({guard_busy(adopted)})")
    assert summary.returncode == 1, summary.stdout + summary.stderr  # a new confirmed regression
    index = json.loads((clone / ".asv" / "html" / "index.json").read_text())
    assert set(index["machines"]) == {adopted["machine"], "runner-b"}  # the merged site holds both machines
    assert re.search(r"\*\*\d+ new confirmed regression\(s\)( at \d+ commit\(s\))?\*\*", summary.stdout)
    body = (issues / f"regression-{adopted['slow']}.md").read_text()
    assert body.count(adopted["slow"]) == 1  # the slow commit, named once
    assert "track_latency_p50_ms" in body and "https://example.invalid/site/#md.Latency" in body
    assert adopted["slow"][:8] in (issues / f"regression-{adopted['slow']}.title").read_text()
    assert [f.name for f in issues.glob("regression-*.md")] == [f"regression-{adopted['slow']}.md"]
    # The fix (commit 10) is already measured: the issue gets its comment and is closed.
    fixed = (issues / f"fixed-{adopted['slow']}.md").read_text()
    assert adopted["fixed"][:8] in fixed and (issues / f"fixed-{adopted['slow']}.close").exists()
    files = subprocess.run(["git", "ls-tree", "-r", "--name-only", "mdperf-results"], cwd=remote, check=True,
                           capture_output=True, text=True).stdout.split()
    assert "mdperf/reported-regressions.json" in files
    assert any(f.startswith("results/runner-b/") for f in files)

    clone, summary, issues = publish_job("night-2")  # a fresh checkout: the record comes from the branch
    # Nothing new, and runner-b's two commits are too short a series to judge: said, with exit 4, never quiet.
    assert summary.returncode == 4, summary.stdout + summary.stderr
    assert "**no verdict (could not judge)**" in summary.stdout and "COULD NOT JUDGE the newest run on runner-b" in \
        summary.stdout and "too short a series to judge" in summary.stdout
    assert list(issues.iterdir()) == []  # named once, and not again


def test_a_dependency_the_environment_lacks_stops_the_track_before_measuring(adopted):
    repo = adopted["repo"]
    init = repo / "mycalc" / "__init__.py"
    good = init.read_text()
    # hypothesis is in the tests' interpreter (the test extra) but not in the benchmark environment
    init.write_text("import hypothesis  # noqa: F401\n" + good)
    subprocess.run(["git", "commit", "-qam", "use a package the environment lacks"], cwd=repo, check=True)
    try:
        p = mdperf(repo, "track", "--machine", adopted["machine"])
    finally:
        init.write_text(good)
    assert p.returncode == 2, p.stdout + p.stderr
    assert "fail in the benchmark environment" in p.stderr and "hypothesis" in p.stderr
    ledger = json.loads((repo / ".asv" / "mdperf" / f"track-{adopted['machine']}.json").read_text())["commits"]
    assert len(ledger) == 16  # nothing recorded for the new commit
