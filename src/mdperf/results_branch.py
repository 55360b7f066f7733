"""asv results kept on a git branch of the measured repository (default ``mdperf-results``), so that a nightly
on a fresh checkout starts from the whole history and several runners add to it without conflicts.

The branch holds ``results/`` as asv writes it: ``benchmarks.json`` and one folder per machine.  ``push`` adds
one machine's folder (and ``benchmarks.json``) on top of the branch's newest commit — built with a private index,
never touching the working tree — and pushes; when another runner pushed first, it fetches and builds again on
top (machines write disjoint folders, so nothing conflicts).  ``pull`` fetches the branch and copies its files
into the local results folder: files the local folder lacks are added; a file of another machine that differs
is replaced by the branch's; the local machine's own files are kept.
"""

from __future__ import annotations

import io
import shutil
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from . import git
from .errors import UserError

DEFAULT_BRANCH = "mdperf-results"
PREFIX = "results"
_REF = "refs/mdperf/results"  # where the branch is fetched to: a private ref, never checked out
PUSH_ATTEMPTS = 5


@dataclass
class PullSummary:
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    empty: bool = False  # the branch does not exist yet


def _fetch(repo: Path, remote: str, branch: str) -> str | None:
    """The branch's newest commit, fetched into a private ref; None when the remote has no such branch."""
    p = git.git_io(repo, "fetch", "--quiet", "--no-tags", remote, f"+refs/heads/{branch}:{_REF}", check=False)
    if p.returncode != 0:
        err = p.stderr.decode(errors="replace")
        if "couldn't find remote ref" in err or "could not find remote ref" in err.lower():
            return None
        raise UserError(f"cannot fetch {branch} from {remote}: {(err.strip().splitlines() or ['?'])[-1]}")
    return git.git(repo, "rev-parse", _REF)


def pull(repo: Path, results_dir: Path, remote: str = "origin", branch: str = DEFAULT_BRANCH,
         machine: str | None = None) -> PullSummary:
    head = _fetch(repo, remote, branch)
    summary = PullSummary()
    if head is None:
        summary.empty = True
        return summary
    data = git.git_io(repo, "archive", "--format=tar", head, PREFIX, check=False)
    if data.returncode != 0:  # the branch exists but holds no results yet
        summary.empty = True
        return summary
    with tempfile.TemporaryDirectory(prefix="mdperf-pull-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(data.stdout)) as tar:
            tar.extractall(tmp, filter="data")
        src = Path(tmp) / PREFIX
        for f in sorted(p for p in src.rglob("*") if p.is_file()):
            rel = f.relative_to(src)
            dest = results_dir / rel
            own = machine is not None and rel.parts[0] == machine
            if not dest.exists():
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(f, dest)
                summary.added.append(str(rel))
            elif dest.read_bytes() != f.read_bytes():
                if own:
                    summary.kept.append(str(rel))
                else:
                    shutil.copyfile(f, dest)
                    summary.replaced.append(str(rel))
    return summary


def push(repo: Path, results_dir: Path, machine: str, remote: str = "origin", branch: str = DEFAULT_BRANCH,
         message: str | None = None) -> str:
    """Add ``machine``'s results to the branch and push it; the new commit's hash."""
    mdir = results_dir / machine
    if not mdir.is_dir():
        raise UserError(f"no results of machine {machine!r} under {results_dir}")
    files = sorted(p for p in mdir.rglob("*") if p.is_file())
    if (results_dir / "benchmarks.json").is_file():
        files.append(results_dir / "benchmarks.json")
    for attempt in range(PUSH_ATTEMPTS):
        parent = _fetch(repo, remote, branch)
        with tempfile.TemporaryDirectory(prefix="mdperf-index-") as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            if parent is not None:
                git.git_io(repo, "read-tree", parent, env=env)
            shas = git.git_io(repo, "hash-object", "-w", "--stdin-paths",
                              input="\n".join(str(f) for f in files) + "\n").stdout.decode().split()
            entries = "".join(f"100644 {sha}\t{PREFIX}/{f.relative_to(results_dir).as_posix()}\n"
                              for sha, f in zip(shas, files))
            git.git_io(repo, "update-index", "--add", "--index-info", input=entries, env=env)
            tree = git.git_io(repo, "write-tree", env=env).stdout.decode().strip()
        if parent is not None and git.git(repo, "rev-parse", f"{parent}^{{tree}}") == tree:
            return parent  # nothing new
        args = ["commit-tree", tree, "-m", message or f"results of {machine}"]
        if parent is not None:
            args[2:2] = ["-p", parent]
        commit = git.git_io(repo, *args, env={"GIT_AUTHOR_NAME": "mdperf", "GIT_AUTHOR_EMAIL": "mdperf@localhost",
                                              "GIT_COMMITTER_NAME": "mdperf",
                                              "GIT_COMMITTER_EMAIL": "mdperf@localhost"}).stdout.decode().strip()
        p = git.git_io(repo, "push", "--quiet", remote, f"{commit}:refs/heads/{branch}", check=False)
        if p.returncode == 0:
            return commit
        err = p.stderr.decode(errors="replace")
        if not any(k in err for k in ("non-fast-forward", "fetch first", "rejected", "stale info")):
            raise UserError(f"cannot push {branch} to {remote}: {(err.strip().splitlines() or ['?'])[-1]}")
        # Another runner pushed first: build again on top of its commit.
    raise UserError(f"could not push {branch} to {remote} after {PUSH_ATTEMPTS} attempts (others kept pushing)")
