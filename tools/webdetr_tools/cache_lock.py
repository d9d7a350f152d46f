"""A per-name file lock for the test-fixture export caches: parallel test workers that ask for the same
package wait for one export instead of writing it twice."""
import contextlib
import fcntl
from pathlib import Path


@contextlib.contextmanager
def package_lock(cache: Path, prefix: str):
    """Exclusive lock for one package name (any key): held while exporting or dropping stale exports."""
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / f".{prefix}lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
