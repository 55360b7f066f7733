"""Every git call mdperf makes: the measured repository's commits, order, subjects and state."""

from __future__ import annotations

import subprocess
from pathlib import Path

from .errors import UserError


def _run(repo: str | Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)


def git(repo: str | Path, *args: str) -> str:
    """Output of ``git args`` in ``repo``; a failure raises UserError with git's last line."""
    p = _run(repo, *args)
    if p.returncode != 0:
        err = p.stderr.strip()
        raise UserError(f"git {' '.join(args)} failed in {repo}: {err.splitlines()[-1] if err else p.returncode}")
    return p.stdout.strip()


def git_io(repo: str | Path, *args: str, input: str | bytes | None = None, env: dict[str, str] | None = None,
           check: bool = True) -> subprocess.CompletedProcess:
    """``git args`` with standard input and extra environment (GIT_INDEX_FILE...), output as bytes; a failure
    raises UserError with git's last line unless ``check`` is false."""
    import os

    data = input.encode() if isinstance(input, str) else input
    p = subprocess.run(["git", *args], cwd=repo, input=data, capture_output=True,
                       env={**os.environ, **(env or {})})
    if check and p.returncode != 0:
        err = p.stderr.decode(errors="replace").strip()
        raise UserError(f"git {' '.join(args)} failed in {repo}: {err.splitlines()[-1] if err else p.returncode}")
    return p


def find_repo(path: str | Path = ".") -> Path:
    """The top of the git repository holding ``path``; outside one, UserError."""
    try:
        p = _run(path, "rev-parse", "--show-toplevel")
    except (OSError, NotADirectoryError) as exc:
        raise UserError(f"cannot use {path}: {exc}") from None
    if p.returncode != 0:
        raise UserError(f"{Path(path).resolve()} is not inside a git repository")
    return Path(p.stdout.strip())


def resolve(repo: str | Path, rev: str) -> str | None:
    """The full hash of commit ``rev`` (a hash, branch, tag or relative name), or None when git knows none."""
    try:
        p = _run(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    except OSError:
        return None
    return p.stdout.strip() if p.returncode == 0 else None


def is_branch(repo: str | Path, name: str) -> bool:
    return _run(repo, "show-ref", "--verify", "--quiet", f"refs/heads/{name}").returncode == 0


def has_parent(repo: str | Path, rev: str) -> bool:
    return resolve(repo, f"{rev}^") is not None


def is_ancestor(repo: str | Path, older: str, newer: str) -> bool:
    """Whether ``older`` is an ancestor of ``newer`` (or the same commit)."""
    try:
        return _run(repo, "merge-base", "--is-ancestor", older, newer).returncode == 0
    except OSError:
        return False


def first_parent_list(repo: str | Path, *args: str) -> list[str]:
    """``git rev-list --first-parent args``: newest first."""
    out = git(repo, "rev-list", "--first-parent", *args)
    return out.split() if out else []


def topo_order(repo: str | Path) -> list[str] | None:
    """Every commit of every ref, oldest first in topological order; None when git cannot say."""
    try:
        p = _run(repo, "rev-list", "--topo-order", "--reverse", "--all")
    except OSError:
        return None
    return p.stdout.split() if p.returncode == 0 else None


def first_parent_order(repo: str | Path) -> list[str] | None:
    """Every commit, oldest first: HEAD's first-parent chain in order, each side-branch commit placed just before
    the first-parent commit that merged it, commits of other refs last; None when git cannot say."""
    topo = topo_order(repo)
    if topo is None:
        return None
    try:
        chain = set(first_parent_list(repo, "HEAD"))
    except UserError:  # no HEAD (an empty repository): topological order alone
        return topo
    order: list[str] = []
    pending: list[str] = []
    for c in topo:  # parents before children: a side commit comes before the merge that brings it in
        if c in chain:
            order.extend(pending)
            pending = []
            order.append(c)
        else:
            pending.append(c)
    return order + pending


def current_branch(repo: str | Path) -> str | None:
    """The checked-out branch's name; None when HEAD is detached or there is no repository."""
    try:
        p = _run(repo, "symbolic-ref", "--quiet", "--short", "HEAD")
    except OSError:
        return None
    return p.stdout.strip() or None if p.returncode == 0 else None


def subject(repo: str | Path, commit: str) -> str:
    return git(repo, "log", "-1", "--format=%s", commit)


def subjects(repo: str | Path | None, commits: list[str]) -> dict[str, str]:
    """Commit -> subject line for the commits git knows (none outside a repository)."""
    if repo is None or not commits:
        return {}
    try:
        p = _run(repo, "log", "--no-walk=unsorted", "--format=%H %s", *commits)
    except OSError:
        return {}
    if p.returncode != 0:
        return {}
    return dict(line.split(" ", 1) for line in p.stdout.splitlines() if " " in line)


def head_state(path: str | Path = ".") -> tuple[str | None, bool | None]:
    """(HEAD's commit, whether tracked files differ from it); (None, None) outside a repository."""
    try:
        head = _run(path, "rev-parse", "HEAD")
        status = _run(path, "status", "--porcelain", "--untracked-files=no")
    except OSError:
        return None, None
    if head.returncode != 0 or status.returncode != 0:
        return None, None
    return head.stdout.strip(), bool(status.stdout.strip())


def commits_with_path(repo: str | Path, paths: list[str], most: int = 200) -> tuple[int, int]:
    """(commits of HEAD's last ``most`` first-parent commits in which any of ``paths`` exists, how many were
    looked at): how much of the history a calculator module is in, read from git without importing anything."""
    commits = first_parent_list(repo, "HEAD", f"--max-count={most}")
    if not commits:
        return 0, 0
    have = 0
    for commit in commits:
        p = _run(repo, "ls-tree", "--name-only", commit, "--", *paths)
        if p.returncode == 0 and p.stdout.strip():
            have += 1
    return have, len(commits)
