"""Write a webdetr model package: one ONNX file per plan segment, the single-graph ONNX, manifest.json."""
import json
import time
from pathlib import Path

import torch

from .int8 import scale_names, weights_to_int8
from .manifest import MANIFEST_FORMAT, file_digest, validate_manifest
from .onnx_fold import fold_pads_in_file
from .onnx_io import OPSET, export_module, weights_to_fp16
from .plan import SingleGraph, run_plan, tensor_specs

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def _graph_entry(name, path, inputs, outputs, fp16, int8=False):
    return {
        "name": name,
        "file": path.name,
        "bytes": path.stat().st_size,
        "sha256": file_digest(path),
        "inputs": list(inputs),
        "outputs": list(outputs),
        "opset": OPSET,
        "weights": "int8" if int8 else "fp16" if fp16 else "fp32",
    }


def _stage(plan, kind, item):
    if kind == "graph":
        segment = plan.segments[item]
        return {"kind": "graph", "graph": item, "inputs": list(segment.inputs), "outputs": list(segment.outputs)}
    return item.manifest_stage()


def _pipeline_entry(plan, pipeline):
    entry = {
        "name": pipeline.name,
        "kind": "split",
        "inputs": list(pipeline.inputs),
        "outputs": list(pipeline.outputs),
        "stages": [_stage(plan, k, i) for k, i in pipeline.stages],
    }
    if pipeline.after:
        entry["after"] = pipeline.after
    if pipeline.description:
        entry["description"] = pipeline.description
    return entry


def write_package(
    plan,
    feeds,
    out_dir,
    description,
    split=True,
    single_graph=True,
    fp16=False,
    fold_pads=False,
    progress=print,
    int8=False,
):
    """Export plan to out_dir. description: the manifest's model/input/output/architecture sections.
    feeds: example inputs (name -> tensor) at the package's fixed size. fold_pads: zero Pads in front of Convs
    become the Convs' pads (onnx_fold.fold_pads_into_convs: same values, fewer copies). int8: weights the plan's
    modules put on an int8 grid (export/int8.quantize_int8_) are stored as int8 (a graph with any says "int8"),
    before fp16 stores the rest. Returns the manifest."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        tensors = run_plan(plan, feeds)
    specs = tensor_specs(tensors)
    # symbolic axes (e.g. UP-DETR's patch count): symbol in the manifest, dynamic axis in the ONNX graphs
    symbolic = plan.extra.get("symbolic", {})
    for name, axes in symbolic.items():
        for axis, symbol in axes.items():
            specs[name]["shape"][axis] = symbol
    graphs, pipelines, used = [], [], set()
    steps = (len(plan.segments) if split else 0) + (1 if single_graph else 0)
    step = 0

    def emit(name, module, inputs, outputs):
        nonlocal step
        step += 1
        started = time.time()
        path = out_dir / f"{name}.onnx"
        dynamic = {
            n: {a: s.replace("*", "_x") for a, s in symbolic[n].items()}
            for n in list(inputs) + list(outputs)
            if n in symbolic
        }
        export_module(module, [tensors[n] for n in inputs], inputs, outputs, path, dynamic_axes=dynamic or None)
        if fold_pads:
            fold_pads_in_file(path)
        converted = weights_to_int8(path) if int8 else []
        if fp16:
            weights_to_fp16(path, keep=scale_names(converted))
        entry = _graph_entry(name, path, inputs, outputs, fp16, bool(converted))
        graphs.append(entry)
        used.update(inputs, outputs)
        progress(f"[{step}/{steps}] graph {name}: {entry['bytes'] / 1e6:.1f} MB in {time.time() - started:.1f} s")

    if split:
        for name, segment in plan.segments.items():
            emit(name, segment.module, segment.inputs, segment.outputs)
        for pipeline in plan.pipelines:
            pipelines.append(_pipeline_entry(plan, pipeline))
            for kind, item in pipeline.stages:
                if kind == "kernel":
                    used.update(
                        [item.value, item.reference_points, item.sampling_offsets, item.attention_logits, item.output]
                    )
    if single_graph:
        inputs = [n for p in plan.pipelines if not p.alternative for n in p.inputs]
        outputs = [description["output"]["logits"], description["output"]["boxes"]]
        emit("single_graph", SingleGraph(plan, inputs, outputs), inputs, outputs)
        pipelines.append(
            {
                "name": "detect_single_graph",
                "kind": "single-graph",
                "inputs": inputs,
                "outputs": outputs,
                "description": plan.extra.get(
                    "single_graph_description",
                    "one graph, deformable attention as GridSample (WASM fallback and benchmark baseline)",
                ),
                "stages": [{"kind": "graph", "graph": "single_graph", "inputs": inputs, "outputs": outputs}],
            }
        )
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
