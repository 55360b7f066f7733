"""asv results kept on a git branch of the measured repository (default ``mdperf-results``), so that a nightly
on a fresh checkout starts from the whole history and several runners add to it without conflicts.

The branch holds ``results/`` as asv writes it: ``benchmarks.json`` and one folder per machine, and
``mdperf/reported-regressions.json``, the record of what was alerted (so a regression is alerted once, whichever
runner or job reads it next).  ``push`` adds machine folders (and ``benchmarks.json``) on top of the branch's
newest commit — built with a private index, never touching the working tree — and pushes; when another runner
pushed first, it fetches and builds again on top (machines write disjoint folders, so nothing conflicts).
``pull`` fetches the branch (or, with ``fetch=False``, reads ``refs/remotes/<remote>/<branch>`` as a
``fetch-depth: 0`` checkout left it, needing no credentials) and copies its files into the local results folder:
files the local folder lacks are added; a file of another machine that differs is replaced by the branch's; the
local machine's own files are kept.  The record is merged (union) both ways.

A runner without write access hands its results on instead: ``export`` copies its machine folder into a folder
(an artifact), and ``merge`` copies such folders into the results of the job that pushes.
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from . import git
from .errors import UserError
from .regressions.record import Record

DEFAULT_BRANCH = "mdperf-results"
PREFIX = "results"
_REF = "refs/mdperf/results"  # where the branch is fetched to: a private ref, never checked out
RECORD = "mdperf/reported-regressions.json"  # the alert record's place on the branch
PUSH_ATTEMPTS = 5


@dataclass
class PullSummary:
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "path: why": entries that are not plain files, left out
    empty: bool = False  # the branch does not exist yet
    record_entries: int = 0  # alerts the branch's record added to the local one


def _branch_head(repo: Path, remote: str, branch: str, fetch: bool) -> str | None:
    if fetch:
        return _fetch(repo, remote, branch)
    return git.resolve(repo, f"refs/remotes/{remote}/{branch}")


def _branch_record(repo: Path, head: str | None) -> dict:
    if head is None:
        return {}
    p = git.git_io(repo, "show", f"{head}:{RECORD}", check=False)
    if p.returncode != 0:
        return {}
    try:
        entries = json.loads(p.stdout).get("series", {})
    except (ValueError, AttributeError):
        return {}
    return entries if isinstance(entries, dict) else {}


def _merge_record(path: Path | None, other: dict) -> tuple[Record | None, int]:
    """The local record with the branch's entries added (a series' commits, once each); (record, entries added)."""
    if path is None:
        return None, 0
    rec = Record.load(path)
    added = 0
    for series, entries in other.items():
        if not isinstance(entries, list):
            continue
        mine = rec.entries.setdefault(str(series), [])
        have = {e["commit"]: e for e in mine}
        for e in entries:
            if not (isinstance(e, dict) and isinstance(e.get("commit"), str)):
                continue
            if e["commit"] not in have:
                mine.append(e)
                have[e["commit"]] = e
                added += 1
            elif e.get("fixed") and not have[e["commit"]].get("fixed"):  # a fix reported elsewhere
                have[e["commit"]]["fixed"] = e["fixed"]
                added += 1
    rec.added += added
    return rec, added


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
         machine: str | None = None, record: Path | None = None, fetch: bool = True) -> PullSummary:
    head = _branch_head(repo, remote, branch, fetch)
    summary = PullSummary()
    if head is None:
        summary.empty = True
        return summary
    rec, summary.record_entries = _merge_record(record, _branch_record(repo, head))
    if rec is not None:
        rec.save()
    data = git.git_io(repo, "archive", "--format=tar", head, PREFIX, check=False)
    if data.returncode != 0:  # the branch exists but holds no results yet
        summary.empty = True
        return summary
    with tempfile.TemporaryDirectory(prefix="mdperf-pull-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(data.stdout)) as tar:
            for member in tar.getmembers():  # results are untrusted data: one bad entry never stops the pull
                if member.isdir():
                    continue
                if not member.isfile():
                    kind = "a link" if member.issym() or member.islnk() else "not a plain file"
                    summary.skipped.append(f"{member.name}: {kind}; left out")
                    continue
                try:
                    tar.extract(member, tmp, filter="data")
                except (tarfile.TarError, OSError) as exc:
                    summary.skipped.append(f"{member.name}: {exc}; left out")
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


def machines_in(results_dir: Path) -> list[str]:
    return sorted(p.name for p in results_dir.iterdir() if p.is_dir()) if results_dir.is_dir() else []


def export(results_dir: Path, machine: str, dest: Path) -> list[Path]:
    """Copy ``machine``'s folder and ``benchmarks.json`` into ``dest`` (a results-shaped folder); the files."""
    mdir = results_dir / machine
    if not mdir.is_dir():
        raise UserError(f"no results of machine {machine!r} under {results_dir}")
    shutil.copytree(mdir, dest / machine, dirs_exist_ok=True)
    if (results_dir / "benchmarks.json").is_file():
        shutil.copyfile(results_dir / "benchmarks.json", dest / "benchmarks.json")
    return sorted(p for p in dest.rglob("*") if p.is_file())


def merge(results_dir: Path, sources: list[Path]) -> list[str]:
    """Copy the machine folders of exported results into ``results_dir`` (theirs replace ours); the machines."""
    names: list[str] = []
    for src in sources:
        if not src.is_dir():
            raise UserError(f"{src}: no such folder of exported results")
        found = [n for n in machines_in(src) if (src / n / "machine.json").is_file()]  # asv's mark of one
        if not found:
            raise UserError(f"{src}: no machine folder in it (made by `mdperf results export`?)")
        for name in found:
            shutil.copytree(src / name, results_dir / name, dirs_exist_ok=True)
            names.append(name)
        if (src / "benchmarks.json").is_file():
            results_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / "benchmarks.json", results_dir / "benchmarks.json")
    return names


def push(repo: Path, results_dir: Path, machines: str | list[str], remote: str = "origin",
         branch: str = DEFAULT_BRANCH, message: str | None = None, record: Path | None = None) -> str:
    """Add ``machines``' results (and the alert record, merged with the branch's) to the branch and push it; the
    new commit's hash."""
    machines = [machines] if isinstance(machines, str) else list(machines)
    files: list[Path] = []
    for machine in machines:
        mdir = results_dir / machine
        if not mdir.is_dir():
            raise UserError(f"no results of machine {machine!r} under {results_dir}")
        files.extend(sorted(p for p in mdir.rglob("*") if p.is_file()))
    if not files:
        raise UserError(f"no results to push under {results_dir}")
    if (results_dir / "benchmarks.json").is_file():
        files.append(results_dir / "benchmarks.json")
    for _attempt in range(PUSH_ATTEMPTS):
        parent = _fetch(repo, remote, branch)
        with tempfile.TemporaryDirectory(prefix="mdperf-index-") as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            if parent is not None:
                git.git_io(repo, "read-tree", parent, env=env)
            shas = git.git_io(repo, "hash-object", "-w", "--stdin-paths",
                              input="\n".join(str(f) for f in files) + "\n").stdout.decode().split()
            entries = "".join(f"100644 {sha}\t{PREFIX}/{f.relative_to(results_dir).as_posix()}\n"
                              for sha, f in zip(shas, files))
            rec, _ = _merge_record(record, _branch_record(repo, parent))
            if rec is not None and rec.entries:
                rec.save()
                sha = git.git_io(repo, "hash-object", "-w", str(rec.path)).stdout.decode().strip()
                entries += f"100644 {sha}\t{RECORD}\n"
            git.git_io(repo, "update-index", "--add", "--index-info", input=entries, env=env)
            tree = git.git_io(repo, "write-tree", env=env).stdout.decode().strip()
        if parent is not None and git.git(repo, "rev-parse", f"{parent}^{{tree}}") == tree:
            return parent  # nothing new
        args = ["commit-tree", tree, "-m", message or f"results of {', '.join(machines)}"]
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
