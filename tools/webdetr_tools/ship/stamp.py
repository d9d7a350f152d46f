"""The build stamp of a benchmark package (tools/build_models.py --bench-out): the checkpoint, the export
options and the exporter's sources it was exported from; a package whose stamp differs is stale."""
from __future__ import annotations

import hashlib
from pathlib import Path

from webdetr_tools.export.manifest import file_digest

TOOLS = Path(__file__).resolve().parents[2]


def sources_digest() -> str:
    """sha256 over the exporter's sources (tools/webdetr_tools/**/*.py and tools/build_models.py), names and bytes."""
    sources = hashlib.sha256()
    for path in sorted([*(TOOLS / "webdetr_tools").rglob("*.py"), TOOLS / "build_models.py"]):
        sources.update(str(path.relative_to(TOOLS)).encode() + b"\0" + path.read_bytes() + b"\0")
    return sources.hexdigest()


def build_stamp(checkpoint: Path, options: dict, sources_sha256: str | None = None) -> dict:
    """What a benchmark package was exported from: the checkpoint, the export options and the exporter's sources
    (sources_digest(), computed here unless given). A package whose stamp differs is stale: an exporter change
    (e.g. another op form) must reach the benchmark, not a package cached before it."""
    return {
        "checkpointSha256": file_digest(checkpoint),
        "options": options,
        "sourcesSha256": sources_sha256 if sources_sha256 is not None else sources_digest(),
    }
