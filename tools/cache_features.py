"""Cache the frozen CenterNet MobileNetV3 features of every image in ../shared/data (see
webdetr_tools/training/features.py for the layout and the loading API).

  /usr/bin/python3 tools/cache_features.py [--data ../shared/data] [--cache .cache/features] [--size 320]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path


from webdetr_tools.backbones.fetch import fetch
from webdetr_tools.training.features import SETS, build_cache

TOOLS = Path(__file__).resolve().parent

REPO = TOOLS.parent


def main(argv=None):
    parser = argparse.ArgumentParser(description="cache backbone features of every image")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--cache", type=Path, default=REPO / ".cache" / "features")
    parser.add_argument("--size", type=int, default=320)
    parser.add_argument("--sets", nargs="*", default=list(SETS))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    start = time.time()
    build_cache(
        args.data,
        args.cache,
        fetch(),
        args.size,
        args.sets,
        log=lambda m: print(f"[{time.time() - start:6.1f}s] {m}", flush=True),
    )


if __name__ == "__main__":
    main()
