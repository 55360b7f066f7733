"""Every git call mdperf makes (mdperf.git), on a real temporary repository."""

import pytest

from histories import make_repo
from mdperf import git
from mdperf.errors import UserError


def test_commits_order_subjects_and_state(tmp_path):
    repo, commits = make_repo(tmp_path, 3)
    assert git.find_repo(repo).resolve() == repo.resolve()
    assert git.resolve(repo, "main~1") == commits[1] and git.resolve(repo, "nosuch") is None
    assert git.is_branch(repo, "main") and not git.is_branch(repo, commits[0])
    assert git.has_parent(repo, commits[1]) and not git.has_parent(repo, commits[0])
    assert git.first_parent_list(repo, "HEAD") == commits[::-1]
    assert git.topo_order(repo) == commits
    assert git.subjects(repo, commits[:2]) == {commits[0]: "commit 0", commits[1]: "commit 1"}
    assert git.head_state(repo) == (commits[-1], False)
    (repo / "f.txt").write_text("changed")
    assert git.head_state(repo) == (commits[-1], True)


def test_outside_a_repository(tmp_path):
    with pytest.raises(UserError, match="not inside a git repository"):
        git.find_repo(tmp_path)
    assert git.head_state(tmp_path) == (None, None) and git.topo_order(tmp_path) is None
    with pytest.raises(UserError, match="git log"):
        git.git(tmp_path, "log")


def test_first_parent_order_places_a_branch_before_its_merge(tmp_path):
    repo, commits = make_repo(tmp_path, 2)
    run = lambda *a: git.git(repo, *a)  # noqa: E731
    run("checkout", "-q", "-b", "topic")
    (repo / "g.txt").write_text("topic")
    run("add", "g.txt")
    run("commit", "-q", "-m", "topic work")
    side = run("rev-parse", "HEAD")
    run("checkout", "-q", "main")
    (repo / "f.txt").write_text("main moved on")
    run("commit", "-q", "-am", "main work")
    main_work = run("rev-parse", "HEAD")
    run("merge", "-q", "--no-ff", "-m", "merge topic", "topic")
    merge = run("rev-parse", "HEAD")
    order = git.first_parent_order(repo)
    assert order[:2] == commits and order[-1] == merge
    assert set(order[2:4]) == {side, main_work}  # the side commit before the merge that brought it in
    assert git.first_parent_list(repo, "HEAD") == [merge, main_work, commits[1], commits[0]]
