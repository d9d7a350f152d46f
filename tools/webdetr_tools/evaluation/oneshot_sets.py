"""The pictures each one-shot evaluation set is scored on, one place for the evaluation scripts
(eval_shipped_oneshot.py, experiments/oneshot_teacher_embed.py, experiments/oneshot_ssdlite_embed.py): a held-out
set's val split (`training.features.set_samples`), or, for "lookalikes", every photo of the look-alikes set
(`data/lookalikes.py`, materialised by tools/materialise_lookalikes.py): none of it is trained on, so it has no
split."""
from __future__ import annotations

from pathlib import Path

from ..data.lookalikes import load_lookalikes
from ..training.features import set_samples

LOOKALIKES = "lookalikes"


def oneshot_samples(data_root: Path, name: str) -> list:
    """Samples of set `name` in the order the protocol's seeded queries and pairs index them."""
    if name == LOOKALIKES:
        return load_lookalikes()
    return [row[2] for row in set_samples(data_root, name) if row[3] == "val"]
