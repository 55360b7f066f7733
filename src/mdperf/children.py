"""Ending what mdperf started: asv runs in a session of its own, and every process it starts stays in that session
— asv gives each child its own process group (``setpgid`` in ``asv.util``), its forkserver and the benchmarks it
forks included — so the session, not the group, is what must end.  asv is asked first (SIGINT: it stops its
forkserver on the way out), then every process left in the session gets SIGTERM, then SIGKILL."""

from __future__ import annotations

import os
import signal
import time

import psutil


def members(sid: int) -> list[psutil.Process]:
    """The live processes of session ``sid``."""
    out = []
    for p in psutil.process_iter():
        try:
            if os.getsid(p.pid) == sid and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except (OSError, psutil.Error):  # gone meanwhile
            continue
    return out


def _signal_all(procs: list[psutil.Process], sig: int) -> None:
    for p in procs:
        try:
            p.send_signal(sig)
        except psutil.Error:
            pass


def end_session(sid: int, ask_s: float = 5.0, grace_s: float = 5.0) -> list[int]:
    """Every process of session ``sid`` (its leader's pid) ends: SIGINT to the leader and up to ``ask_s`` for it to
    close what it started, SIGTERM to all that remain and up to ``grace_s``, then SIGKILL.  The pids that needed
    SIGKILL."""
    try:
        if os.getsid(sid) == sid:  # still the session's leader (never a process that reused its pid)
            os.kill(sid, signal.SIGINT)
    except OSError:
        pass
    deadline = time.monotonic() + ask_s
    while time.monotonic() < deadline and psutil.pid_exists(sid) and _alive(sid):
        time.sleep(0.1)
    left = members(sid)
    _signal_all(left, signal.SIGTERM)
    _, left = psutil.wait_procs(left, timeout=grace_s)
    _signal_all(left, signal.SIGKILL)
    psutil.wait_procs(left, timeout=grace_s)
    return [p.pid for p in left]


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


# Started beside a child in a session of its own: when mdperf ends without saying "done" (kill -9, a crash), its
# end of the pipe closes and the watchdog ends the child's whole session.
_WATCHDOG = """
import sys
session = int(sys.argv[1])
if sys.stdin.read() != "done":
    from mdperf.children import end_session
    end_session(session)
"""


def run(cmd: list[str], *, stdout, stderr, env: dict[str, str] | None = None, cwd=None,
        timeout_s: float | None = None) -> int:
    """``cmd`` in a session of its own, its exit code.  However mdperf ends — Ctrl-C, SIGTERM, kill -9 — every
    process of that session ends too; and when ``cmd`` ends, anything it left behind in its session."""
    import subprocess
    import sys

    proc = subprocess.Popen(cmd, stdout=stdout, stderr=stderr, env=env, cwd=cwd, start_new_session=True)
    watchdog = subprocess.Popen([sys.executable, "-c", _WATCHDOG, str(proc.pid)], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                                text=True)
    try:
        return proc.wait(timeout=timeout_s)
    except BaseException:
        end_session(proc.pid)
        proc.wait()
        raise
    finally:
        try:
            watchdog.communicate("done", timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            watchdog.kill()
        if proc.returncode is not None:
            for p in members(proc.pid):
                try:
                    p.kill()
                except psutil.Error:
                    pass


def capture(cmd: list[str], *, env: dict[str, str] | None = None, cwd=None, timeout_s: float | None = None):
    """:func:`run` with stdout and stderr captured as text: a ``subprocess.CompletedProcess``.  Past ``timeout_s``
    the session is ended and ``subprocess.TimeoutExpired`` raised, as ``subprocess.run`` does."""
    import subprocess
    import tempfile

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        rc = run(cmd, stdout=out, stderr=err, env=env, cwd=cwd, timeout_s=timeout_s)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(cmd, rc, out.read(), err.read())


def run_logged(cmd: list[str], log, env: dict[str, str], cwd, timeout_s: float | None = None) -> int:
    """:func:`run` with stdout and stderr in the file ``log`` (its folder made), the exit code."""
    import subprocess

    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as fh:
        return run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=cwd, timeout_s=timeout_s)
