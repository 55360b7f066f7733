"""Faults an operator of a shared runner meets, and what mdperf does: real processes, real signals, real files.
The fault table in docs/reference/faults.md names each test here."""

import fcntl
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from histories import make_repo, write_asv_results
from mdperf import history
from mdperf.errors import UserError
from mdperf.regressions import config as reg_config
from mdperf.result import atomic_write_text

ROOT = Path(__file__).resolve().parents[1]


def mdperf(*args, cwd=None, timeout=600, env=None):
    return subprocess.run([sys.executable, "-m", "mdperf.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)


def one_line_exit_2(p):
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    assert p.stderr.count("\n") == 1 and p.stderr.startswith("mdperf: error: "), p.stderr
    assert "Traceback" not in p.stderr + p.stdout


RUN = ["run", "--calc", "torch-lj", "--system", "ar", "--atoms", "32", "--steps", "3", "--warmup", "0"]


# --- inputs checked before any work ------------------------------------------------------------------------


@pytest.mark.parametrize("extra, message", [
    (["--timestep-fs", "0"], "time step must be a finite number > 0"),
    (["--timestep-fs", "nan"], "time step must be a finite number > 0"),
    (["--temperature-k", "-10"], "temperature must be a finite number >= 0"),
    (["--dtype", "float16"], "unknown dtype 'float16'"),
    (["--steps", "1000000000000"], "steps must be <= 10,000,000"),
])
def test_case_numbers_are_bad_input(extra, message):
    p = mdperf(*RUN, *extra)
    one_line_exit_2(p)
    assert message in p.stderr


def test_json_output_paths_are_checked_before_measuring(tmp_path):
    one_line_exit_2(p := mdperf(*RUN, "--json", str(tmp_path)))
    assert "not a regular file" in p.stderr
    one_line_exit_2(p := mdperf(*RUN, "--json", str(tmp_path / "missing" / "r.json")))
    assert "does not exist" in p.stderr
    if os.path.exists("/dev/full"):
        one_line_exit_2(mdperf(*RUN, "--json", "/dev/full"))
        assert stat.S_ISCHR(os.stat("/dev/full").st_mode)  # the device node is still a device node


def test_a_plugins_prints_never_land_in_the_json_on_stdout():
    p = mdperf(*[a if a != "torch-lj" else "calcs_for_tests:chatty" for a in RUN], "--json", "-")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["case"]["calculator"] == "calcs_for_tests:chatty"
    assert "loading my model" in p.stderr and "a C library says hello" in p.stderr


def test_json_dash_is_stdout(tmp_path):
    p = mdperf(*RUN, "--json", "-", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["case"]["calculator"] == "torch-lj"
    assert not (tmp_path / "-").exists()


def test_outputs_have_normal_file_modes(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "f.json", "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f.json").stat().st_mode) == 0o644


@pytest.mark.parametrize("text, message", [
    ('higher_is_better = "*steps*"\n', "higher_is_better must be a list"),
    ("window = 0\n", "window must be >= 1"),
    ("window = 1.5\n", "window must be a whole number"),
    ("z_min = nan\n", "z_min must be a finite number"),
    ("penalty_beta = 0\n", "penalty_beta must be > 0"),
    ("[events]\nmin_series = 0\n", "min_series must be >= 1"),
])
def test_regression_settings_that_would_change_the_answer_are_refused(tmp_path, text, message):
    f = tmp_path / "reg.toml"
    f.write_text(text)
    with pytest.raises(UserError, match=message):
        reg_config.load(f)


def test_a_config_file_that_is_not_utf8_is_one_line(tmp_path):
    f = tmp_path / "reg.toml"
    f.write_bytes(b"window = 3 # \xff\xfe\n")
    with pytest.raises(UserError, match="cannot read regression config"):
        reg_config.load(f)


@pytest.fixture
def tracked(tmp_path):
    repo, commits = make_repo(tmp_path, 3)
    for name in ("asv.conf.json",):
        (repo / name).write_text((ROOT / name).read_text())
    (repo / "pyproject.toml").write_text('[tool.mdperf.suite]\ncalculators = ["torch-lj"]\n')
    return repo


@pytest.mark.parametrize("edit, message", [
    (lambda r: (r / "asv.conf.json").write_text(
        (r / "asv.conf.json").read_text().replace('"results_dir": ".asv/results"', '"results_dir": 5')),
     "results_dir must be a string"),
    (lambda r: (r / "pyproject.toml").write_text(
        (r / "pyproject.toml").read_text() + '[tool.mdperf.track]\ndefault_last = "three"\n'),
     "default_last must be a whole number"),
])
def test_track_settings_are_checked(tracked, edit, message):
    edit(tracked)
    one_line_exit_2(p := mdperf("track", cwd=tracked))
    assert message in p.stderr


@pytest.mark.parametrize("name", ["..", ".", "a/b", "x y", ""])
def test_machine_names_cannot_leave_the_results_folder(tracked, name):
    one_line_exit_2(p := mdperf("track", "--machine", name, cwd=tracked))  # '' is not "the default"
    assert "invalid machine name" in p.stderr
    assert not (tracked / ".asv").exists()


@pytest.mark.parametrize("command", [["confirm", "--new"], ["bisect"], ["results", "export", "out.json"]])
def test_every_command_checks_the_machine_name_as_track_does(tracked, command):
    one_line_exit_2(p := mdperf(*command, "--machine", "../x", cwd=tracked))
    assert "invalid machine name" in p.stderr


def test_confirm_of_an_unknown_commit_is_bad_input_not_nothing_to_confirm(tracked):
    one_line_exit_2(p := mdperf("confirm", "0123abcd", cwd=tracked))
    assert "unknown commit '0123abcd'" in p.stderr


@pytest.mark.parametrize("args, message", [
    (["--seed", "-1"], "must be in 0..4294967295"),
    (["--json", "/proc/version"], "not writable"),
])
def test_run_refuses_before_measuring(args, message):
    if args[-1].startswith("/proc") and not os.path.exists(args[-1]):
        pytest.skip("no /proc here")
    t0 = time.perf_counter()
    one_line_exit_2(p := mdperf(*RUN, *args))
    assert message in p.stderr
    assert time.perf_counter() - t0 < 30  # nothing was measured first


@pytest.mark.parametrize("args, message", [
    (["--calc", "../../etc:passwd"], "malformed calculator '../../etc:passwd'"),
    (["--calc", "emt", "--mdperf-requirement", "mdperf\n      - run: curl evil"], "one pip requirement"),
    (["--calc", "emt", "--mdperf-requirement", 'mdperf"; rm -rf /; "'], "one pip requirement"),
])
def test_init_refuses_what_would_end_up_in_a_path_or_a_workflow(tmp_path, args, message):
    repo, _ = make_repo(tmp_path, 1)
    one_line_exit_2(p := mdperf("init", *args, "--no-probe", cwd=repo))
    assert message in p.stderr
    assert not (repo / ".github").exists() and not (repo / "asv.conf.json").exists()


def test_plot_of_a_fifo_and_site_assets_into_a_file_are_bad_input(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    one_line_exit_2(p := mdperf("plot", str(fifo), "--out", str(tmp_path / "out"), timeout=30))
    assert "not a regular file" in p.stderr
    (tmp_path / "file").write_text("x")
    one_line_exit_2(p := mdperf("site-assets", "--dest", str(tmp_path / "file")))
    assert "not a folder" in p.stderr


def test_commit_subjects_in_issues_do_not_notify_or_link():
    from mdperf.regressions.report import _md, inert

    assert inert("fix #12 for @alice, GH-7") == "fix #\u200b12 for @\u200balice, GH-\u200b7"
    assert "@\u200bteam" in _md("cc @team") and "C# code" == inert("C# code")


def test_preview_on_a_busy_or_invalid_port(tracked):
    (tracked / ".asv" / "html").mkdir(parents=True)
    (tracked / ".asv" / "html" / "index.html").write_text("<html></html>")
    one_line_exit_2(p := mdperf("preview", "--port", "70000", cwd=tracked))
    assert "--port must be" in p.stderr
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        one_line_exit_2(p := mdperf("preview", "--port", str(s.getsockname()[1]), cwd=tracked))
    assert "cannot serve on port" in p.stderr


def test_plugins_that_do_not_import_or_exit_are_errors_not_silence(tmp_path):
    (tmp_path / "badsyntax.py").write_text("def make(:\n")
    (tmp_path / "quitter.py").write_text("import sys\ndef make(system=None):\n    sys.exit(0)\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    p = mdperf(*[a if a != "torch-lj" else "badsyntax:make" for a in RUN], env=env)
    one_line_exit_2(p)
    assert "SyntaxError" in p.stderr
    p = mdperf(*[a if a != "torch-lj" else "quitter:make" for a in RUN], env=env)
    assert p.returncode == 1 and "called sys.exit(0)" in p.stdout, (p.stdout, p.stderr)


def test_a_plugin_that_exits_or_hangs_in_calculate_is_the_cases_error(tmp_path):
    # run measures in a process of its own, as compare does: sys.exit(0) in calculate() is no success
    p = mdperf(*[a if a != "torch-lj" else "calcs_for_tests:exit_in_calculate" for a in RUN], "--steps", "20")
    assert p.returncode == 1 and "measurement process exited with code 0" in p.stdout, (p.stdout, p.stderr)
    t0 = time.perf_counter()
    p = mdperf(*[a if a != "torch-lj" else "calcs_for_tests:hang_after_5" for a in RUN], "--steps", "20",
               "--case-timeout", "8")
    assert p.returncode == 1 and "did not finish within 8 s (--case-timeout)" in p.stdout, (p.stdout, p.stderr)
    assert time.perf_counter() - t0 < 60
    p = mdperf("compare", "torch-lj", "calcs_for_tests:hang_after_5", "--system", "ar", "--atoms", "32", "--steps",
               "20", "--warmup", "0", "--case-timeout", "8")
    assert p.returncode == 1 and "did not finish within 8 s" in p.stdout and "torch-lj" in p.stdout, p.stdout


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_while_a_factory_loads_is_the_signal_not_the_factorys_error(sig, tmp_path):
    loading = tmp_path / "loading"
    proc = subprocess.Popen([sys.executable, "-m", "mdperf.cli",
                             *[a if a != "torch-lj" else "calcs_for_tests:slow_load" for a in RUN]],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "MDPERF_TEST_LOADING": str(loading)})
    deadline = time.time() + 60
    while time.time() < deadline and not loading.exists():
        time.sleep(0.1)  # the factory writes the file as it begins to load, in the measuring process
    assert loading.exists(), "the factory never began to load"
    kids = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == (130 if sig == signal.SIGINT else 128 + sig), (proc.returncode, out, err)
    assert "Traceback" not in out + err and "slow_load" not in out  # no factory error reported
    deadline = time.time() + 10
    while _descendants_alive([k.pid for k in kids]) and time.time() < deadline:
        time.sleep(0.2)
    assert not _descendants_alive([k.pid for k in kids])


# --- the results reader ------------------------------------------------------------------------------------


def test_the_reader_survives_any_bytes_and_never_blocks_on_special_files(tmp_path):
    root = tmp_path / "results"
    write_asv_results(root, "m", [f"{i:08x}" + "b" * 32 for i in range(6)],
                      {"b.time_x": {"params": [], "param_names": [], "unit": "seconds",
                                    "values": [[1.0]] * 6}})
    m = root / "m"
    (m / "00000001-junk.json").write_bytes(os.urandom(2000))
    (m / "00000002-list.json").write_text("[1, 2]")
    (m / "00000003-null.json").write_text("null")
    os.mkfifo(m / "00000004-fifo.json")
    # In a thread: a reader that opened the FIFO would block for ever; the test then fails instead of hanging.
    import threading

    found = {}
    reader = threading.Thread(target=lambda: found.setdefault("h", history.read(root)), daemon=True)
    reader.start()
    reader.join(timeout=30)
    if reader.is_alive():
        with open(m / "00000004-fifo.json", "w"):  # release the blocked reader before failing
            pass
        pytest.fail("the reader blocked on a FIFO")
    h = found["h"]
    reasons = " | ".join(p.reason for p in h.problems)
    assert "not a regular file" in reasons and "not a results object" in reasons
    assert len(h.series) == 1 and len(h.series[0].values) == 6


def test_results_that_are_all_unreadable_are_not_a_quiet_night(tmp_path):
    m = tmp_path / "results" / "m"
    m.mkdir(parents=True)
    for i in range(3):
        (m / f"{i:08x}-env.json").write_text("{broken")
    one_line_exit_2(p := mdperf("regressions", "--results", str(tmp_path / "results"), "--no-record"))
    assert "no readable results" in p.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any folder: a permission fault cannot be made here")
def test_an_unreadable_machine_folder_is_a_problem(tmp_path):
    root = tmp_path / "results"
    write_asv_results(root, "m", ["a" * 40], {"b.time_x": {"params": [], "param_names": [], "unit": "seconds",
                                                           "values": [[1.0]]}})
    (root / "m").chmod(0)
    try:
        h = history.read(root)
    finally:
        (root / "m").chmod(0o755)
    assert any("cannot read this machine's folder" in p.reason for p in h.problems)


# --- one track at a time ------------------------------------------------------------------------------------


def test_a_second_track_on_the_same_machine_exits_2_naming_the_holder(tracked):
    lock = tracked / ".asv" / "mdperf" / "track-m1.lock"
    lock.parent.mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", f"""
import fcntl, sys, time
fh = open({str(lock)!r}, "a+")
fcntl.flock(fh, fcntl.LOCK_EX)
fh.write("pid 4242 since now")
fh.flush()
print("held", flush=True)
time.sleep(60)
"""], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        one_line_exit_2(p := mdperf("track", "--machine", "m1", cwd=tracked))
        assert "another mdperf track holds" in p.stderr and "pid 4242" in p.stderr
    finally:
        holder.kill()
        holder.wait()
    fh = open(lock, "a+")
    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again once its holder is gone
    fh.close()


# --- signals ------------------------------------------------------------------------------------------------


def _descendants_alive(pids):
    return [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_ending_mdperf_ends_what_it_started(sig):
    # compare's measurement child: stopped by mdperf on SIGTERM; on kill -9 it sees its parent gone and ends.
    proc = subprocess.Popen([sys.executable, "-m", "mdperf.cli", "compare", "torch-lj", "--system", "ar",
                             "--atoms", "32", "--steps", "5000000", "--warmup", "0"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    parent = psutil.Process(proc.pid)
    children = []
    for _ in range(300):
        children = parent.children(recursive=True)
        if any("multiprocessing" in " ".join(c.cmdline()) for c in children if c.is_running()):
            break
        time.sleep(0.1)
    assert children, "compare never started its measurement process"
    time.sleep(1.0)
    pids = [c.pid for c in children]
    proc.send_signal(sig)
    proc.wait(timeout=60)
    deadline = time.monotonic() + 30
    while _descendants_alive(pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _descendants_alive(pids), [psutil.Process(p).cmdline() for p in _descendants_alive(pids)]
    assert proc.returncode == (128 + signal.SIGTERM if sig == signal.SIGTERM else -signal.SIGKILL)


def test_a_damaged_ledger_only_costs_re_measuring(tmp_path):
    from mdperf.track import Ledger

    for text in ("[1, 2]", '{"commits": [1]}', "{broken", '{"commits": {"abc": 5}}'):
        (tmp_path / "ledger.json").write_text(text)
        assert Ledger(tmp_path / "ledger.json").entries == {}


def test_names_from_results_are_inert_in_markdown_and_html(tmp_path):
    from mdperf import site
    from mdperf.regressions import analyse
    from mdperf.regressions import report as text

    root = tmp_path / "results"
    name = "b.time_<img src=x onerror=alert(1)>|`x`"
    values = [[1.0]] * 10 + [[2.0]] * 10
    write_asv_results(root, "m<script>", [f"{i:08x}" + "c" * 32 for i in range(20)],
                      {name: {"params": [], "param_names": [], "unit": "seconds", "values": values}})
    rep = analyse(history.read(root))
    assert rep.flags
    md = text.markdown(rep)
    assert "<img" not in md and "<script>" not in md and "&lt;img" in md
    page = site.render(rep)
    assert "<img src=x" not in page and "<script>" not in page and "&lt;img src=x" in page


def test_a_zero_byte_result_file_is_a_machine_fault_not_a_failure(tmp_path):
    from mdperf.asvconf import AsvSetup
    from mdperf.track import classify

    commit = "d" * 40
    m = tmp_path / "results" / "m"
    m.mkdir(parents=True)
    (m / f"{commit[:8]}-env.json").write_bytes(b"")  # what asv leaves on a full disk
    log = tmp_path / "c.log"
    log.write_text("")
    setup = AsvSetup(tmp_path, tmp_path / "asv.conf.json", tmp_path / "results", tmp_path / "html", tmp_path / "env",
                     {}, "x", None, 3, "default")
    status, reason, _ = classify(setup, "m", commit, 0, log)
    assert status == "fault" and "unreadable result file" in reason
    assert classify(setup, "m", "e" * 40, -9, log)[0] == "fault"  # asv killed


@pytest.fixture
def full_filesystem(tmp_path):
    """A 64 KiB tmpfs, where the machine lets this process mount one; else the test is skipped with why."""
    mnt = tmp_path / "full"
    mnt.mkdir()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {(p.stderr or p.stdout).strip()[:120]}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def test_a_full_disk_at_the_end_is_one_line_after_the_table(full_filesystem):
    out = full_filesystem / "r.json"
    p = mdperf("run", "--calc", "torch-lj", "--system", "ar", "--atoms", "32", "--steps", "3000", "--warmup", "0",
               "--json", str(out))
    one_line_exit_2(p)
    assert "could not write" in p.stderr and "latency" in p.stdout  # the measurement was still shown
    assert not out.exists()  # nothing half-written


# --- concurrency --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_two_tracks_on_different_machines_share_the_environments_one_at_a_time(tmp_path):
    """asv installs the measured package into the checkout's environments: a second track (another machine name)
    waits for the first instead of measuring a package being replaced; both record every commit right."""
    from benchmarks.eval.calc_repo import git as calc_git
    from benchmarks.eval.calc_repo import make_calc_repo

    repo = tmp_path / "mycalc"
    make_calc_repo(repo, n_commits=2, slow=None, broken=None)
    assert mdperf("init", "--calc", "mycalc:make", "--system", "ar", "--atoms", "32", "--steps", "20",
                  "--no-probe", cwd=repo).returncode == 0
    calc_git(repo, "add", "-A")
    calc_git(repo, "commit", "-q", "-m", "Track performance with mdperf")
    env = {**os.environ, "MDPERF_HEARTBEAT_S": "2"}
    runs = [subprocess.Popen([sys.executable, "-m", "mdperf.cli", "track", "--last", "3", "--machine", m],
                             cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
            for m in ("one", "two")]
    outs = [r.communicate(timeout=1200)[0] for r in runs]
    assert [r.returncode for r in runs] == [0, 0], outs
    assert sum("waiting for the benchmark environments" in out for out in outs) == 1, outs  # one waited
    for m in ("one", "two"):
        ledger = json.loads((repo / ".asv" / "mdperf" / f"track-{m}.json").read_text())["commits"]
        assert [e["status"] for e in ledger.values()] == ["ok", "ok", "ok"], ledger


def test_the_build_folders_of_a_confirm_killed_with_9_are_removed_by_the_next(tmp_path, monkeypatch):
    import tempfile

    from mdperf import confirm

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()  # a pid that has ended
    orphan = tmp_path / f"{confirm.BUILD_PREFIX}{dead}-abc"
    live = tmp_path / f"{confirm.BUILD_PREFIX}{os.getpid()}-def"  # a confirm still running
    for folder in (orphan, live):
        (folder / "site-x").mkdir(parents=True)
    confirm._remove_orphaned_folders()
    assert not orphan.exists() and live.exists()


def test_what_a_child_leaves_in_its_session_ends_with_it_and_a_timeout_ends_the_session(tmp_path):
    from mdperf import children

    # a child that starts a grandchild in a process group of its own (as asv does) and exits at once
    pidfile = tmp_path / "grandchild"
    code = ("import os, subprocess, sys; g = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], "
            f"preexec_fn=lambda: os.setpgid(0, 0)); open({str(pidfile)!r}, 'w').write(str(g.pid)); print('out')")
    p = children.capture([sys.executable, "-c", code])
    assert p.returncode == 0 and p.stdout.strip() == "out"
    grandchild = int(pidfile.read_text())
    deadline = time.time() + 10
    while _descendants_alive([grandchild]) and time.time() < deadline:
        time.sleep(0.1)
    assert not _descendants_alive([grandchild])
    t0 = time.perf_counter()
    with pytest.raises(subprocess.TimeoutExpired):
        children.capture([sys.executable, "-c", "import time; time.sleep(60)"], timeout_s=1)
    assert time.perf_counter() - t0 < 20
