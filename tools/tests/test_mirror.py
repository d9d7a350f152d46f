"""data/mirror.py on a tiny git repository made here: files are read at the pinned commit (not at what the branch
points to now), and a missing commit or path gives an error naming the mirror and the commit."""
import re
import shutil
import subprocess

import pytest

from webdetr_tools.data.mirror import git_show, has_commit, list_files, require_commit

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")

MISSING = "0123456789abcdef0123456789abcdef01234567"


def _git(repo, *args):
    env = ["-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"]
    return subprocess.run(["git", "-C", str(repo), *env, *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def mirror(tmp_path):
    """A bare clone (as the fetch tool leaves) of a repository with two commits; returns (mirror, first, second)."""
    work = tmp_path / "work"
    work.mkdir()
    _git(work, "init", "-q")
    (work / "a dir").mkdir()
    (work / "a dir" / "photo 1.jpg").write_bytes(b"\xff\xd8first\x00bytes")
    (work / "notes.txt").write_text("one\n")
    _git(work, "add", ".")
    _git(work, "commit", "-q", "-m", "first")
    first = _git(work, "rev-parse", "HEAD").strip()
    (work / "notes.txt").write_text("two\n")
    (work / "later.txt").write_text("later\n")
    _git(work, "add", ".")
    _git(work, "commit", "-q", "-m", "second")
    second = _git(work, "rev-parse", "HEAD").strip()
    bare = tmp_path / "owner+name" / "repo"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True, capture_output=True)
    return bare, first, second


def test_reads_files_at_the_pinned_commit(mirror):
    bare, first, second = mirror
    assert git_show(bare, first, "notes.txt") == b"one\n"
    assert git_show(bare, second, "notes.txt") == b"two\n"
    assert git_show(bare, first, "a dir/photo 1.jpg") == b"\xff\xd8first\x00bytes"
    assert list_files(bare, first) == ["a dir/photo 1.jpg", "notes.txt"]
    assert list_files(bare, second) == ["a dir/photo 1.jpg", "later.txt", "notes.txt"]


def test_has_commit(mirror, tmp_path):
    bare, first, second = mirror
    assert has_commit(bare, first) and has_commit(bare, second)
    assert not has_commit(bare, MISSING)
    assert not has_commit(tmp_path / "absent", first)
    require_commit(bare, first, "github:owner/name")


def test_missing_commit_names_mirror_and_commit(mirror):
    bare, _, _ = mirror
    for call in (
        lambda: require_commit(bare, MISSING, "github:owner/name"),
        lambda: git_show(bare, MISSING, "notes.txt"),
        lambda: list_files(bare, MISSING),
    ):
        with pytest.raises(SystemExit, match=f"{re.escape(str(bare))}.*{MISSING}"):
            call()


def test_missing_path_is_a_value_error(mirror):
    bare, first, _ = mirror
    with pytest.raises(ValueError, match=re.escape(f"{bare} @ {first}: no file later.txt")):
        git_show(bare, first, "later.txt")
