"""The walk-throughs of docs/adopting.md, run as written: each `$ ` line between a pair of markers, mdperf's
commands with this interpreter, git as it is, pip and `mdperf preview` (serves until stopped) left out."""

import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def commands(marker: str) -> list[str]:
    """The shell commands of the block between two ``<!-- marker -->`` lines, in order."""
    block = (ROOT / "docs" / "adopting.md").read_text().split(f"<!-- {marker} -->", 2)[1]
    return [line[2:] for line in block.splitlines() if line.startswith("$ ")]


def mdperf(repo, *args, timeout=1800, env=None):
    return subprocess.run([sys.executable, "-m", "mdperf.cli", *args], cwd=repo, capture_output=True, text=True,
                          timeout=timeout, env=env)


def walk(repo, marker, machine, *, env=None, before_track=lambda: None, accept=lambda args, p: p.returncode == 0):
    """Run the block in ``repo``, `mdperf track` on ``machine``; each command's process by its first two words."""
    outputs = {}
    for cmd in commands(marker):
        args = shlex.split(cmd)
        if args[:2] == ["mdperf", "preview"] or args[0] not in ("mdperf", "git"):
            continue
        if args[0] == "mdperf":
            if args[1] == "track":
                before_track()
                args += ["--machine", machine]
            p = mdperf(repo, *args[1:], env=env)
        else:
            p = subprocess.run(args, cwd=repo, capture_output=True, text=True)
        outputs[" ".join(args[:2])] = p
        assert accept(args, p), f"{cmd}: {p.stdout}\n{p.stderr}"
    return outputs
