#!/usr/bin/env python3
"""Record the Hugging Face RT-DETR (v1 and v2) outputs on small synthetic checkpoints (tools/tests/fixtures/hf_rtdetr).

    /usr/bin/python3 tools/make_hf_rtdetr_fixture.py --hf-dir .cache/hf_rtdetr [--out DIR] [--case v1 ...]

--hf-dir holds hf_modeling.py: the inference path of transformers' modeling_rt_detr.py, modeling_rt_detr_resnet.py,
modeling_rt_detr_v2.py (+ the modular composition of the V2 classes) and image_processing_rt_detr.py
(post_process_object_detection) at the blobs listed in webdetr_tools/export/hf_rtdetr_fixture.py TRANSFORMERS, copied
with docstrings and training-only code dropped and its library imports pointed at `hf_shims`
(webdetr_tools/export/hf_rtdetr_shims.py, registered under that name here). That copy stays outside the repository.
Run from tools/ (or with tools/ on PYTHONPATH) so that webdetr_tools imports.
"""
import argparse
import importlib.util
import sys
from pathlib import Path

import torch

from webdetr_tools.export import hf_rtdetr_fixture, hf_rtdetr_shims


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hf-dir", type=Path, required=True, help="directory with the copied hf_modeling.py")
    parser.add_argument("--out", type=Path, default=hf_rtdetr_fixture.FIXTURE_DIR)
    parser.add_argument("--case", action="append", choices=sorted(hf_rtdetr_fixture.CASES))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    sys.modules["hf_shims"] = hf_rtdetr_shims
    spec = importlib.util.spec_from_file_location("hf_modeling_rtdetr", args.hf_dir / "hf_modeling.py")
    hf_modeling = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hf_modeling)
    record = hf_rtdetr_fixture.generate(hf_modeling, hf_rtdetr_shims, args.out, args.case)
    print(f"wrote {args.out}: cases {', '.join(record['cases'])}")


if __name__ == "__main__":
    main()
