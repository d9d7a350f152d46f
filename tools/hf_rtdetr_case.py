#!/usr/bin/env python3
"""Write one Hugging Face RT-DETR fixture case (tools/tests/fixtures/hf_rtdetr) for the Node tests: the checkpoint
directory, the input image as raw float32 and the recorded Hugging Face outputs as .npy; prints their paths as JSON.

    /usr/bin/python3 tools/hf_rtdetr_case.py --case v2 --out /tmp/dir
"""
import argparse
import json
from pathlib import Path

from webdetr_tools.export.hf_rtdetr_fixture import CASES, write_case_files


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", required=True, choices=sorted(CASES))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    print(json.dumps(write_case_files(args.case, args.out)))


if __name__ == "__main__":
    main()
