"""RT-DETR checkpoint (official lyuwenyu/RT-DETR .pth, v1 or v2) -> webdetr model package: split graphs around
the decoder's deformable cross-attention (rtdetr_segments.py), the single-graph baseline, manifest.json.

Preprocessing is the official one: the picture resized to the fixed input size (640 x 640 by default), RGB / 255,
no mean / std. Outputs: pred_logits (sigmoid, focal) and pred_boxes (cxcywh, relative), as RTDETRPostProcessor
reads them.
"""
import json
import time
from pathlib import Path

import torch

from ..rtdetr.config import detect_config
from ..rtdetr.model import RTDETR
from .exporter import COCO_91
from .manifest import MANIFEST_FORMAT, file_digest, validate_manifest
from .onnx_io import OPSET, export_module, weights_to_fp16
from .plan import tensor_specs
from .rtdetr_segments import RtSingleGraph, rtdetr_plan, run_rt_plan

EXPORTER = "webdetr_tools.export.rtdetr 1"


def is_rtdetr_checkpoint(path):
    """An official RT-DETR .pth (v1 or v2): PResNet backbone + HybridEncoder + RT-DETR decoder keys."""
    path = Path(path)
    if not path.is_file() or path.suffix not in (".pth", ".pt"):
        return False
    state_dict = load_rtdetr_state_dict(path)
    return isinstance(state_dict, dict) and all(
        key in state_dict
        for key in (
            "backbone.conv1.conv1_1.conv.weight",
            "decoder.dec_score_head.0.weight",
            "decoder.query_pos_head.layers.0.weight",
        )
    )


def load_rtdetr_state_dict(checkpoint):
    """The model weights of an official checkpoint: its EMA weights when saved, else 'model', else the dict."""
    data = torch.load(str(checkpoint), map_location="cpu")
    if isinstance(data, dict) and "ema" in data and data["ema"]:
        ema = data["ema"]
        return ema.get("module", ema)
    if isinstance(data, dict) and "model" in data:
        return data["model"]
    return data


def build_rtdetr(state_dict, overrides=None):
    cfg = detect_config(state_dict, overrides)
    model = RTDETR(cfg).eval()
    model.load_state_dict(state_dict, strict=True)
    # v2 stores 1 / P_l per sample as a buffer; the kernel divides by P_l, so the two must agree.
    for name, tensor in state_dict.items():
        if name.endswith("num_points_scale"):
            want = torch.tensor([1 / n for n in cfg["num_points"] for _ in range(n)])
            if tensor.shape != want.shape or (tensor.float() - want).abs().max() > 1e-6:
                raise ValueError(f"{name} is not 1 / points per level {cfg['num_points']}: check --config num_points")
    return model, cfg


def level_shapes_at(model, height, width):
    if height % 32 or width % 32:
        raise ValueError(f"RT-DETR needs an input size divisible by 32 (the encoder's FPN), got {height}x{width}")
    with torch.no_grad():
        feats = model.encoder(model.backbone(torch.zeros(1, 3, height, width)))
        return model.decoder.memory(feats)[1]


def _graph_entry(name, path, inputs, outputs, fp16):
    return {
        "name": name,
        "file": path.name,
        "bytes": path.stat().st_size,
        "sha256": file_digest(path),
        "inputs": list(inputs),
        "outputs": list(outputs),
        "opset": OPSET,
        "weights": "fp16" if fp16 else "fp32",
    }


def write_rtdetr_package(
    model, out_dir, height, width, description, split=True, single_graph=True, fp16=False, progress=print
):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    shapes = level_shapes_at(model, height, width)
    # The ResNet-vd shortcuts' AvgPool2d(2, 2, ceil_mode=True) sees even sizes only (the input is a multiple of
    # 32), where ceil_mode changes nothing; onnxruntime's WebGPU AveragePool rejects ceil_mode, so it is dropped.
    for module in model.modules():
        if isinstance(module, torch.nn.AvgPool2d):
            module.ceil_mode = False
    plan = rtdetr_plan(model, shapes)
    image = torch.zeros(1, 3, height, width)
    with torch.no_grad():
        tensors = run_rt_plan(plan, {"image": image})
    specs = tensor_specs(tensors)
    graphs, pipelines, used = [], [], set()

    def emit(name, module, inputs, outputs):
        started = time.time()
        path = out_dir / f"{name}.onnx"
        export_module(module, [tensors[n] for n in inputs], inputs, outputs, path)
        if fp16:
            weights_to_fp16(path)
        graphs.append(_graph_entry(name, path, inputs, outputs, fp16))
        used.update(inputs, outputs)
        progress(f"graph {name}: {path.stat().st_size / 1e6:.1f} MB in {time.time() - started:.1f} s")

    if split:
        for name, segment in plan.segments.items():
            emit(name, segment.module, segment.inputs, segment.outputs)
        for pipeline in plan.pipelines:
            stages = []
            for kind, item in pipeline.stages:
                if kind == "graph":
                    segment = plan.segments[item]
                    stages.append(
                        {"kind": "graph", "graph": item, "inputs": segment.inputs, "outputs": segment.outputs}
                    )
                else:
                    stages.append(item.manifest_stage())
                    used.update(
                        [item.value, item.reference_points, item.sampling_offsets, item.attention_logits, item.output]
                    )
            pipelines.append(
                {
                    "name": pipeline.name,
                    "kind": "split",
                    "description": pipeline.description,
                    "inputs": pipeline.inputs,
                    "outputs": pipeline.outputs,
                    "stages": stages,
                }
            )
    if single_graph:
        inputs, outputs = ["image"], ["pred_logits", "pred_boxes"]
        emit("single_graph", RtSingleGraph(plan, inputs, outputs), inputs, outputs)
        pipelines.append(
            {
                "name": "detect_single_graph",
                "kind": "single-graph",
                "inputs": inputs,
                "outputs": outputs,
                "description": "one graph, the deformable cross-attention as GridSample (discrete: Gather); WASM "
                "fallback and benchmark baseline",
                "stages": [{"kind": "graph", "graph": "single_graph", "inputs": inputs, "outputs": outputs}],
            }
        )
    description = json.loads(json.dumps(description))
    description["architecture"]["levelShapes"] = [list(s) for s in shapes]
    manifest = {
        "format": MANIFEST_FORMAT,
        **description,
        "graphs": graphs,
        "tensors": {name: specs[name] for name in specs if name in used},
        "pipelines": pipelines,
    }
    validate_manifest(manifest)
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def rtdetr_description(cfg, class_names, source, height, width):
    return {
        "model": {"family": "rt-detr", "variant": cfg["version"], "source": source, "exporter": EXPORTER},
        "input": {
            "sizePolicy": {"kind": "fixed", "height": height, "width": width},
            "resize": "bilinear-stretch",
            "mean": [0.0, 0.0, 0.0],
            "std": [1.0, 1.0, 1.0],
            "pixelScale": 255,
            "layout": "NCHW",
        },
        "output": {
            "logits": "pred_logits",
            "boxes": "pred_boxes",
            "classActivation": "sigmoid",
            "classNames": list(class_names),
            "boxFormat": "cxcywh-normalized",
            "topK": 300,
        },
        "architecture": {
            "hiddenDim": cfg["hidden"],
            "numQueries": cfg["queries"],
            "encoderLayers": cfg["enc_layers"],
            "decoderLayers": cfg["dec_layers"],
            "numHeads": cfg["dec_heads"],
            "numLevels": cfg["num_levels"],
            "decoderPoints": max(cfg["num_points"]),
            "ffnDim": cfg["dec_ffn"],
            "backbone": f"presnet{cfg['depth']}vd",
        },
    }


def export_rtdetr_checkpoint(
    checkpoint,
    out_dir,
    height=640,
    width=640,
    overrides=None,
    class_names=None,
    fp16=False,
    split=True,
    single_graph=True,
    progress=print,
):
    started = time.time()
    state_dict = load_rtdetr_state_dict(checkpoint)
    model, cfg = build_rtdetr(state_dict, overrides)
    progress(
        f"found rt-detr {cfg['version']}: presnet{cfg['depth']}vd, hidden {cfg['hidden']}, decoder {cfg['dec_layers']} "
        f"layers x {cfg['dec_heads']} heads, points {cfg['num_points']} ({cfg['cross_attn_method']}), queries "
        f"{cfg['queries']}, classes {cfg['num_classes']}, input {height}x{width}"
    )
    # An 80-class model is a COCO one (the official configs' num_classes: 80, the 91 ids without N/A, in order).
    coco = [n for n in COCO_91 if n != "N/A"]
    names = class_names or (coco if cfg["num_classes"] == 80 else [f"class_{i}" for i in range(cfg["num_classes"])])
    if len(names) != cfg["num_classes"]:
        raise ValueError(f"{len(names)} class names for {cfg['num_classes']} classes")
    source = {"checkpoint": Path(checkpoint).name, "sha256": file_digest(checkpoint), "format": "official"}
    manifest = write_rtdetr_package(
        model,
        out_dir,
        height,
        width,
        rtdetr_description(cfg, names, source, height, width),
        split,
        single_graph,
        fp16,
        progress,
    )
    progress(f"wrote {out_dir}/manifest.json: {len(manifest['graphs'])} graphs, {time.time() - started:.1f} s")
    return manifest
