"""Shared pytest set-up: two CPU threads, paths to the repo and ../shared (tools/ is on sys.path through
pyproject.toml's pythonpath)."""
import os
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[1]
REPO = TOOLS.parent
SHARED = Path(os.environ.get("WEBDETR_SHARED", REPO.parent / "shared"))

try:
    import torch

    torch.set_num_threads(int(os.environ.get("WEBDETR_TORCH_THREADS", "2")))
except ImportError:  # the environment test reports the missing package
    pass


@pytest.fixture(scope="session")
def repo_dir() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"../shared not found at {SHARED} (set WEBDETR_SHARED)")
    return SHARED
