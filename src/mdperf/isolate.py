"""One measurement in a fresh process, as the asv suite takes each case (benchmarks/md.py).

Process-wide state leaks from one measurement into the next one in the same process: the host's peak RSS only
grows, the GPU allocator keeps its cache (counted in the next case's reserved and NVML figures), and a CUDA
context or a lazily built kernel is already warm at the next case's cold start.  A case that ends its process
(a segfault, the OOM killer) would also end every case after it.  ``mdperf compare`` therefore measures each
calculator here.  (The suite keeps its own ``python -c`` child: it must run against every measured commit's
mdperf, most of which predate this module.)
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
import time
from typing import Any, Callable

from .measurement import Case
from .result import MeasureResult

_PROGRESS_EVERY_S = 0.2  # progress messages from the child, at most this often


def _orphaned_exit(parent: int) -> None:
    # The parent may end without a word (kill -9): the measurement is then nobody's and must not run on.
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _child(case: dict[str, Any], options: dict[str, Any], out: Any, parent: int) -> None:
    import sys

    from .measurement import measure_case

    # A plug-in's prints go to stderr: the parent's stdout may carry the JSON alone (`--json -`).
    sys.stdout.flush()
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    threading.Thread(target=_orphaned_exit, args=(parent,), daemon=True).start()

    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= _PROGRESS_EVERY_S or done >= total:
            last[0] = now
            out.put(("progress", done, total))

    result = measure_case(Case.from_dict(case), progress=progress, **options)
    out.put(("result", result.to_dict()))


CASE_TIMEOUT_S = 3600.0  # `--case-timeout`: a hanging calculator is the case's error, never a run without end


def measure_isolated(case: Case, *, progress: Callable[[int, int], None] | None = None,
                     blowup_ev_per_atom: float = 1.0, repo: str = ".",
                     timeout_s: float | None = CASE_TIMEOUT_S) -> MeasureResult:
    """:func:`mdperf.measurement.measure_case` in a fresh (spawned) Python process; the same result.

    A process that ends without a result (a segfault, ``sys.exit`` or ``os._exit`` in a plug-in) gives a result
    with status ``error`` and its exit code; one still running after ``timeout_s`` is killed, an ``error`` too.
    """
    from . import environment
    from .measurement import finish

    # spawn, not fork: a forked child would inherit the parent's memory, peak RSS and any CUDA state.
    ctx = multiprocessing.get_context("spawn")
    messages = ctx.Queue()
    options = {"blowup_ev_per_atom": blowup_ev_per_atom, "repo": repo}
    proc = ctx.Process(target=_child, args=(case.to_dict(), options, messages, os.getpid()), daemon=True)
    proc.start()
    answer, deadline, timed_out = None, None if timeout_s is None else time.monotonic() + timeout_s, False
    try:
        while answer is None:
            try:
                msg = messages.get(timeout=0.5)
            except queue.Empty:
                if deadline is not None and time.monotonic() > deadline:
                    timed_out = True
                    proc.kill()
                    break
                if proc.is_alive():
                    continue
                try:  # it may have put its answer just before it ended
                    msg = messages.get(timeout=2.0)
                except queue.Empty:
                    break
            if msg[0] == "progress":
                if progress is not None:
                    progress(msg[1], msg[2])
            else:
                answer = msg
    except BaseException:  # Ctrl-C, SIGTERM: the measurement ends with mdperf, now
        proc.kill()
        raise
    finally:
        proc.join(timeout=30)
        if proc.is_alive():
            proc.kill()
            proc.join()
    if answer is not None:
        return MeasureResult.from_dict(answer[1])
    lost = MeasureResult(case=case.to_dict(), environment=environment.collect(repo))
    if timed_out:
        return finish(lost, "error", f"the case did not finish within {timeout_s:g} s (--case-timeout); stopped")
    return finish(lost, "error", f"measurement process exited with code {proc.exitcode}")
