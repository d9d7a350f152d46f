#!/usr/bin/env python3
"""Copies the look-alikes photos (issue 26's never-trained-on evaluation set, tools/gallery/lookalikes.json) out
of the fetch mirrors into .cache/lookalikes/. It needs these fetch sources, each unpacked under
/work/.mirror/<owner>+<name>/repo (or --mirrors), at the commit the manifest records:

    github:AlbaraShehadeh/Jordan-Coin-Detector-YOLOv8-based-Object-Detection-and-Counting   (coins)
    github:Aditya6511/Egg-Quality-Grading                                                    (eggs)
    github:CodeNBucket/Custom-Tomato-Counter                                                 (tomatoes)
    github:BESSTSU/bolt_counter                                                              (bolts)

    /usr/bin/python3 tools/materialise_lookalikes.py [--mirrors /work/.mirror] [--cache .cache/lookalikes]

Exits with status 2 and names the missing sources when a mirror is absent.
"""
import argparse
import sys
from pathlib import Path

from webdetr_tools.data.lookalikes import CACHE, MANIFEST, MIRRORS, load_manifest, materialise


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    parser.add_argument("--mirrors", type=Path, default=MIRRORS)
    parser.add_argument("--cache", type=Path, default=CACHE)
    args = parser.parse_args()
    try:
        materialise(load_manifest(args.manifest), args.mirrors, args.cache)
    except FileNotFoundError as error:
        print(error, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
