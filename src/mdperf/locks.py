"""Who may use what at once: one `mdperf track` per checkout and machine name (a second exits 2 naming the
holder), and one run at a time over a checkout's benchmark environments — asv installs and uninstalls the measured
package there, so a track, confirm or bisect on another machine name waits for it instead of measuring a package
that is being replaced (seen: a commit recorded "failed: every benchmark failed", then skipped for ever)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path
from typing import Callable, Iterator

from .errors import UserError

ENVIRONMENTS = ".mdperf-environments.lock"  # in the checkout's asv env_dir


def _holder(fh) -> str:
    fh.seek(0)
    return fh.read().strip() or "another process"


def _claim(fh, what: str) -> None:
    fh.seek(0)
    fh.truncate()
    fh.write(f"pid {os.getpid()} ({what}) since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    fh.flush()


@contextlib.contextmanager
def exclusive(path: Path, what: str) -> Iterator[None]:
    """Held for the block; taken already, exit 2 naming the holder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(f"another {what} holds {path} ({_holder(fh)}); wait for it or stop it") from None
        _claim(fh, what)
        yield


@contextlib.contextmanager
def environments(env_dir: Path, what: str, on_wait: Callable[[str], None] = lambda text: None) -> Iterator[None]:
    """The checkout's benchmark environments for the block; while another run holds them, wait (said once)."""
    env_dir.mkdir(parents=True, exist_ok=True)
    with open(env_dir / ENVIRONMENTS, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            on_wait(f"waiting for the benchmark environments in {env_dir}: {_holder(fh)} uses them")
            fcntl.flock(fh, fcntl.LOCK_EX)
        _claim(fh, what)
        yield
