#!/usr/bin/env python3
"""Record the Hugging Face Deformable-DETR outputs on tiny synthetic checkpoints (tools/tests/fixtures/hf_deformable).

    /usr/bin/python3 tools/make_hf_fixture.py --hf-dir /tmp/hfref [--out DIR] [--case plain ...]

--hf-dir holds hf_modeling.py: the inference path of transformers' modeling_deformable_detr.py, modeling_resnet.py
(ResNetBackbone) and image_processing_deformable_detr.py (post_process_object_detection) at the commits listed in
webdetr_tools/export/hf_fixture.py TRANSFORMERS, copied verbatim with its library imports pointed at `hf_shims`
(webdetr_tools/export/hf_shims.py, registered under that name here). That copy stays outside the repository.
Run from the repository root (or with tools/ on PYTHONPATH) so that webdetr_tools imports.
"""
import argparse
import importlib.util
import sys
from pathlib import Path

import torch

from webdetr_tools.export import hf_fixture, hf_shims


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hf-dir", type=Path, required=True, help="directory with the copied hf_modeling.py")
    parser.add_argument("--out", type=Path, default=hf_fixture.FIXTURE_DIR)
    parser.add_argument("--case", action="append", choices=sorted(hf_fixture.CASES))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    sys.modules["hf_shims"] = hf_shims
    spec = importlib.util.spec_from_file_location("hf_modeling", args.hf_dir / "hf_modeling.py")
    hf_modeling = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hf_modeling)
    record = hf_fixture.generate(hf_modeling, hf_shims, args.out, args.case)
    print(f"wrote {args.out}: cases {', '.join(record['cases'])}")


if __name__ == "__main__":
    main()
