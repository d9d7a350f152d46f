"""Reading files at a pinned commit out of a local git mirror of a public repository.

The data modules here (coco_extra, imagenet_det) never download anything: the `fetch` tool leaves a git directory
per repository (e.g. /work/.mirror/owner+name/repo, bare or with a work tree), and they read the files of one
pinned commit from it, so what they write does not depend on what the mirror's branches point at now.

  has_commit(mirror, commit) -> bool        whether the mirror holds that commit
  require_commit(mirror, commit, source)    the same, or SystemExit naming the mirror, the commit and the source
  list_files(mirror, commit) -> list[str]   every file path in the commit's tree, in git's order
  git_show(mirror, commit, path) -> bytes   one file's bytes at the commit
"""
from __future__ import annotations

import subprocess
from pathlib import Path


def _git(mirror: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(mirror), *args], capture_output=True)


def has_commit(mirror: Path, commit: str) -> bool:
    """Whether the git directory `mirror` exists and holds `commit` (False for a missing folder or a non-git one)."""
    if not Path(mirror).is_dir():
        return False
    return _git(mirror, "cat-file", "-e", f"{commit}^{{commit}}").returncode == 0


def require_commit(mirror: Path, commit: str, source: str = "") -> None:
    """SystemExit naming the mirror and the commit (and the repository, if given) unless the mirror holds it."""
    if not has_commit(mirror, commit):
        what = f" of {source}" if source else ""
        raise SystemExit(f"{mirror}: not a git mirror{what} holding commit {commit} (fetch it first)")


def _fail(mirror: Path, commit: str, what: str, result: subprocess.CompletedProcess):
    # Say first whether the commit itself is missing, the usual cause (a stale or wrong mirror), before git's text.
    require_commit(mirror, commit)
    raise ValueError(f"{mirror} @ {commit}: {what}: {result.stderr.decode(errors='replace').strip()}")


def list_files(mirror: Path, commit: str) -> list[str]:
    """Every file path in the commit's tree (recursive, in git's order). -z keeps names with spaces or non-ASCII
    characters whole and unquoted."""
    result = _git(mirror, "ls-tree", "-r", "-z", "--name-only", commit)
    if result.returncode != 0:
        _fail(mirror, commit, "cannot list its tree", result)
    return [p for p in result.stdout.decode().split("\0") if p]


def git_show(mirror: Path, commit: str, path: str) -> bytes:
    """The bytes of `path` at `commit`. SystemExit if the mirror lacks the commit, ValueError if the commit lacks
    the path."""
    result = _git(mirror, "show", f"{commit}:{path}")
    if result.returncode != 0:
        _fail(mirror, commit, f"no file {path}", result)
    return result.stdout
