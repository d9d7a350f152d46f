"""The v2b exporter's WASM speed-ups keep what the graph computes (issue 34: encoder_input was ~35 ms slower than
v1's): a small TF.js graph in the teacher neck's interpreter (SAME convolutions at stride 2 and 1, a depthwise one,
TF1 legacy x2 upsampling) exported as ONNX has its zero Pads folded into the Convs (export/onnx_fold.py) and its
upsampling as one Resize (detector_v2/neck.py), and onnxruntime-web (WASM, Node) gives the PyTorch outputs.
Fails if a Pad or the Gather-based upsampling comes back, or if either rewrite changes values."""
import json
import subprocess
from pathlib import Path

import numpy as np
import onnx
import torch

from webdetr_tools.backbones.tfjs_graph import TfjsGraph, TfjsNode
from webdetr_tools.detector_v2.neck import _AnySizeGraph
from webdetr_tools.export.onnx_fold import fold_pads_in_file
from webdetr_tools.export.onnx_io import export_module

REPO = Path(__file__).resolve().parents[2]
# Runs the graph in onnxruntime-web as the CPU runner does (1 thread): argv = model, input json; prints the output.
NODE_RUN = """
const ort = await import(process.argv[1] + '/node_modules/onnxruntime-web/dist/ort.node.min.mjs');
const fs = await import('node:fs');
ort.env.wasm.numThreads = 1;
const session = await ort.InferenceSession.create(fs.readFileSync(process.argv[2]), { executionProviders: ['wasm'] });
const input = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
const out = await session.run({ image: new ort.Tensor('float32', Float32Array.from(input.data), input.dims) });
const y = out[session.outputNames[0]];
console.log(JSON.stringify({ dims: y.dims, data: Array.from(y.data) }));
"""


def _neck_like_graph():
    rng = np.random.RandomState(3)
    nodes = [
        TfjsNode("in", "Placeholder", [], {}),
        TfjsNode("w1", "Const", [], {}),
        TfjsNode("b1", "Const", [], {}),
        TfjsNode(
            "down",
            "_FusedConv2D",
            ["in", "w1", "b1"],
            {"strides": [1, 2, 2, 1], "padding": "SAME", "fused_ops": ["BiasAdd", "Relu6"]},
        ),
        TfjsNode("w2", "Const", [], {}),
        TfjsNode("dw", "DepthwiseConv2dNative", ["down", "w2"], {"strides": [1, 1, 1, 1], "padding": "SAME"}),
        TfjsNode("size", "Const", [], {}),
        TfjsNode("up", "ResizeBilinear", ["dw", "size"], {"align_corners": False, "half_pixel_centers": False}),
        TfjsNode("w3", "Const", [], {}),
        TfjsNode("out", "Conv2D", ["up", "w3"], {"strides": [1, 1, 1, 1], "padding": "SAME"}),
    ]
    weights = {
        "w1": rng.randn(3, 3, 3, 8).astype(np.float32) * 0.2,
        "b1": rng.randn(8).astype(np.float32),
        "w2": rng.randn(5, 5, 8, 1).astype(np.float32) * 0.2,
        "size": np.array([0, 0], np.int32),  # _AnySizeGraph doubles whatever the size says
        "w3": rng.randn(3, 3, 8, 4).astype(np.float32) * 0.2,
    }
    return _AnySizeGraph(TfjsGraph({n.name: n for n in nodes}, weights), ["out"])


def test_pads_fold_into_convs_and_upsampling_is_one_resize_with_the_same_values(tmp_path):
    module = _neck_like_graph().eval()
    image = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 255

    class Single(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.graph = module

        def forward(self, x):
            return self.graph(x)[0]

    with torch.no_grad():
        expected = Single()(image)
    path = tmp_path / "neck.onnx"
    export_module(Single(), [image], ["image"], ["out"], path)
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    assert ops.count("Pad") == 3 and ops.count("Resize") == 1
    assert fold_pads_in_file(path) == 3
    graph = onnx.load(str(path)).graph
    ops = [n.op_type for n in graph.node]
    # the pads' shape arithmetic (Shape, Gather, ...) goes with the Pads; no Gather-based upsampling is left
    assert "Pad" not in ops and "Gather" not in ops and "Shape" not in ops
    pads = [[a.ints for a in n.attribute if a.name == "pads"][0] for n in graph.node if n.op_type == "Conv"]
    # TF SAME at stride 2 on an even size pads after only; at stride 1 both sides
    assert [list(p) for p in pads] == [[0, 0, 1, 1], [2, 2, 2, 2], [1, 1, 1, 1]]
    (tmp_path / "input.json").write_text(json.dumps({"dims": list(image.shape), "data": image.flatten().tolist()}))
    run = subprocess.run(
        ["node", "--input-type=module", "-e", NODE_RUN, str(REPO), str(path), str(tmp_path / "input.json")],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    got = json.loads(run.stdout)
    assert got["dims"] == list(expected.shape)
    diff = np.abs(np.array(got["data"], np.float32) - expected.flatten().numpy()).max()
    assert diff < 1e-4 * max(1.0, float(expected.abs().max()))
