"""Commit selection of `mdperf track` on a real git repository (no asv run needed)."""

import subprocess

import pytest

from histories import make_repo
from mdperf.asvconf import AsvSetup
from mdperf.errors import UserError
from mdperf.track import select_commits


def setup_for(repo, first_commit=None, default_last=3):
    return AsvSetup(repo, repo / "asv.conf.json", repo / ".asv/results", repo / ".asv/html", repo / ".asv/env", {},
                    "tracked", first_commit, default_last, "quick")


@pytest.fixture
def repo(tmp_path):
    repo, commits = make_repo(tmp_path, 8)
    subprocess.run(["git", "branch", "feature", commits[5]], cwd=repo, check=True)
    return repo, commits


def test_default_last_few_then_only_new(repo):
    r, c = repo
    todo, skipped = select_commits(setup_for(r), None, None, set())
    assert todo == c[5:] and skipped == 0  # oldest first
    todo, skipped = select_commits(setup_for(r), None, None, set(c[:6]))
    assert todo == c[6:] and skipped == 0  # after the newest measured one


def test_range_branch_commit_and_last(repo):
    r, c = repo
    assert select_commits(setup_for(r), f"{c[2]}..{c[4]}", None, set())[0] == c[3:5]
    assert select_commits(setup_for(r), "feature", None, {c[0]})[0] == c[1:6]
    assert select_commits(setup_for(r), c[2][:10], None, set())[0] == [c[2]]
    todo, skipped = select_commits(setup_for(r), None, 4, {c[7]})
    assert todo == c[4:7] and skipped == 1


def test_first_commit_bounds_history(repo):
    r, c = repo
    todo, _ = select_commits(setup_for(r, first_commit=c[3]), "main", None, set())
    assert todo == c[3:]


def test_bad_selection(repo):
    r, c = repo
    with pytest.raises(UserError, match="unknown commit or branch"):
        select_commits(setup_for(r), "nope", None, set())
    with pytest.raises(UserError, match="not both"):
        select_commits(setup_for(r), "main", 2, set())
