"""Histories for the tests: noisy series, a git repository of n commits, asv result folders of them."""

import subprocess

import numpy as np
from benchmarks.eval.asv_files import write_asv_results  # noqa: F401  (re-exported for the tests)


def noisy(n, cv=0.01, seed=0, base=10.0):
    return base * np.exp(np.random.default_rng(seed).normal(0, cv, n))


# --- detector -------------------------------------------------------------------------------------------


def make_repo(tmp_path, n):
    repo = tmp_path / "repo"
    repo.mkdir()
    run = lambda *a: subprocess.run(["git", *a], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()
    run("init", "-q", "-b", "main")
    run("config", "user.email", "t@example.invalid")
    run("config", "user.name", "t")
    commits = []
    for i in range(n):
        (repo / "f.txt").write_text(str(i))
        run("add", "f.txt")
        run("commit", "-q", "-m", f"commit {i}")
        commits.append(run("rev-parse", "HEAD"))
    return repo, commits


def lat_series(n, step_at=None, rel=0.2, seed=0):
    v = noisy(n, seed=seed)
    if step_at is not None:
        v[step_at:] *= 1 + rel
    return v

__all__ = ["lat_series", "make_repo", "noisy", "write_asv_results"]
