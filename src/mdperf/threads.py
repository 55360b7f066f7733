"""The CPU thread count a measurement runs with: declared, applied in the measuring process, and read back.

torch's default (one intra-op thread per core) makes a CPU case's time depend on what else the machine runs:
torch-lj at 2,048 atoms measured 1.05-3.9x slower with 2 threads than with 1 on a shared 2-core machine, its
spread 12-62 ms per step against 11-16 ms (docs/results/threads.md).  Every case therefore declares its count
(``DEFAULT_THREADS`` unless set), and the count is part of what the case is.
"""

from __future__ import annotations

import os
import sys
from typing import Any

DEFAULT_THREADS = 1
# Read by OpenMP (torch's intra-op pool), MKL, OpenBLAS and numexpr when they start: a child started with them set
# runs with the count before any library is loaded.
ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def check(threads: Any) -> int:
    from .errors import UserError

    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise UserError(f"threads must be an integer >= 1, got {threads!r}")
    return threads


def text(threads: int) -> str:
    return f"{threads} CPU thread{'s' * (threads != 1)}"


def env(threads: int) -> dict[str, str]:
    """The variables a child process gets so that every library in it starts with ``threads``."""
    return {name: str(threads) for name in ENV_VARS}


def apply(threads: int) -> None:
    """Set ``threads`` in this process: for children (the variables), for the libraries already loaded (their
    thread pools, through threadpoolctl) and for torch when it is loaded (intra- and inter-op).  Called before the
    calculator is built and again after (building it may load torch)."""
    os.environ.update(env(threads))
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # a measured commit's environment without it: the variables above still hold for children
        pass
    else:
        threadpool_limits(limits=threads)
    torch = sys.modules.get("torch")
    if torch is None:  # importing torch for a calculator that does not use it would add to its memory
        return
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    if torch.get_num_interop_threads() != threads:
        try:
            torch.set_num_interop_threads(threads)
        except RuntimeError:  # only settable before torch's first parallel work; read() then reports what holds
            pass


def read() -> dict[str, Any]:
    """The counts in force in this process, as the result records them (``environment.threads``)."""
    out: dict[str, Any] = {name: os.environ.get(name) for name in ENV_VARS}
    torch = sys.modules.get("torch")
    if torch is not None:
        out["torch_intraop"] = torch.get_num_threads()
        out["torch_interop"] = torch.get_num_interop_threads()
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        pass
    else:
        out["pools"] = sorted({f"{p.get('internal_api')}={p.get('num_threads')}" for p in threadpool_info()})
    return out
