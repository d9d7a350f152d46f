"""Detector v2b (detector_v2/model_b.py: two-stage Deformable-DETR whose proposals are the CenterNet teacher's
own detections) -> a model package the runtime runs (same split plan as export/deformable_segments.py).

Graphs (msDeformAttn kernel stages between them, unchanged):
  encoder_input  image (0-255) -> TeacherNeck (levels 8/16/32 + the stride-4 heat-map logits and wh head) ->
                 proposal decode as ONNX ops (3x3 MaxPool + Equal + Where, NHWC Reshape, TopK K = queries,
                 Mod/Div, Gather) -> input_proj, position embeddings, encoder layer 0's projections; plus the
                 proposal tensors, all float32: prop_boxes [1,K,4] (normalised cxcywh), prop_token [1,K] (the
                 level-8 token of the peak, an integer in float32), prop_extra [1,K,d] (score_embed(sigmoid of
                 the 80 heat logits) + label_embed(class)), prop_base [1,K,C] (the teacher's logit on the
                 proposal's class, other_class_logit elsewhere);
  encoder_k      unchanged;
  decoder_input  memory -> decoder value projections; queries: content = memory[prop_token] + prop_extra,
                 query_pos = pos_trans of the box's sine embedding, reference = prop_boxes;
  decoder_k      unchanged (box refinement);
  head           logits = class_embed(hs) + prop_base, boxes refined.
The model's enc_output / encoder heads are unused and not exported.
WASM speed (issue 34): the neck's x2 upsamplings export as ONNX Resize (detector_v2/neck.py) and the teacher's TF
SAME Pads fold into its Convs (export/onnx_fold.py): encoder_input ~25-35 ms faster, same values to float rounding.

Proposal stride: by default the one the checkpoint trained on (config model.proposals.source: "stride8_cached" ->
8, the 2x2-pooled heat-map and wh of level 8, peak at the cell centre 8x + 2; a source starting "stride4" -> 4, the
teacher's own stride-4 maps). README-detector-v2.md §5: stride 4 scores +0.9 AP at step 0 (the teacher), but the
gain does not carry over to a model trained on stride-8 proposals (step 700: 29.91 vs 30.39), so the package decodes
as training did. Both are the same ONNX ops; export_v2b(stride=4) / build_models.py --v2b-stride 4 forces stride 4.

API
  load_v2b(checkpoint) -> (DeformableDETRB eval, config, step)
  proposal_stride(config) -> 4 or 8 (what the checkpoint trained on)
  V2bForward(model, neck, stride) -> module: image [1,3,S,S] 0-255 -> (pred_logits, pred_boxes), the PyTorch
      reference (= detector_v2 forward_eval with those proposals)
  export_v2b(checkpoint, model_json, out_dir, fp16=False, stride=None, score_threshold=..., progress=print) -> manifest
"""
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..detector_v2.model_b import build_model_b, forward_eval
from ..detector_v2.neck import TeacherNeck
from ..detector_v2.proposals import from_level8, from_teacher
from ..export.deformable_segments import (
    attention_projections,
    decoder_self_attention,
    deformable_plan,
    encoder_reference_points,
    expand_reference,
    finish_decoder_layer,
    finish_encoder_layer,
    refine_reference,
)
from ..export.manifest import file_digest
from ..export.package import write_package
from ..models.deformable_transformer import inverse_sigmoid, proposal_position_embedding
from .centernet import INPUT_0_255

EXPORTER = "webdetr_tools.ship.detector_v2b 1"
BACKBONE_NAME = "centernet-mobilenetv3-neck"
# Suggested minimum score (manifest output.scoreThreshold), chosen on held-out data: the F1-best threshold at IoU 0.5
# (right class) over coco128 val + pennfudan val persons of the exported package through the CLI
# (tools/eval_shipped.py's threshold sweep). The v2b run's step 1,400 (shipped before): F1 flat from 0.35 to 0.45,
# 0.4 chosen; the v2d run's final step (shipped): F1 flat from 0.35 to 0.45 (0.575-0.580), the plateau's low end 0.35
# chosen (tools/results/detector_v2b_shipped.json). tools/ship_detector.py --threshold T rewrites this line (and
# checks that test/shipped/shipped-parity.test.ts expects T) so that `npm run build:models` reproduces the package.
SCORE_THRESHOLD = 0.35
# Class-wise duplicate suppression (manifest output.duplicateIou), applied after the top-k by the runtime and by
# training.evaluate.postprocess: the teacher can put two peaks on one large object, and the decoder (1,400 steps) does
# not learn to suppress one of them (issue 34: the bundled astronaut got person 0.79 and 0.45 at IoU ~0.8).
DUPLICATE_IOU = 0.7


def load_v2b(checkpoint):
    return load_proposal_checkpoint(checkpoint, "v2b", build_model_b)


def load_proposal_checkpoint(checkpoint, variant, build):
    """(model eval, config, step) of a training checkpoint of `variant` (v2b, v3), built by `build(config)`."""
    state = torch.load(str(checkpoint), map_location="cpu")
    config = state["config"]
    if config.get("variant") != variant:
        raise ValueError(f"{checkpoint}: not a detector {variant} checkpoint (variant {config.get('variant')!r})")
    model = build(config)
    model.load_state_dict(state["model"])
    return model.eval(), config, state.get("step")


def proposal_stride(config) -> int:
    source = str(config["model"].get("proposals", {}).get("source", "stride8_cached"))
    return 4 if source.startswith("stride4") else 8


def teacher_levels(neck, image):
    """TeacherNeck.forward plus the stride-4 maps: ([level8, level16, level32], heat logits, wh head)."""
    neck8, neck16, c5, heat, wh = neck.graph(image)
    return [torch.cat([neck8, F.max_pool2d(heat, 2), F.avg_pool2d(wh, 2)], 1), neck16, c5], heat, wh


def decode_proposals(model, levels, heat, wh, stride):
    size, k = model.feature_size, model.num_queries
    return from_teacher(heat, wh, size, k) if stride == 4 else from_level8(levels[0], size, k)


class V2bForward(nn.Module):
    """The PyTorch reference: image -> (logits, boxes) of the last decoder layer."""

    def __init__(self, model, neck, stride=4):
        super().__init__()
        self.model, self.neck, self.stride = model, neck, int(stride)

    @torch.no_grad()
    def forward(self, image):
        levels, heat, wh = teacher_levels(self.neck, image)
        return forward_eval(self.model, levels, decode_proposals(self.model, levels, heat, wh, self.stride))


def level8_token(p, size):
    """The level-8 token holding each proposal's peak (model_b.proposal_queries' index)."""
    h8 = w8 = size // 8
    token = p.position
    if p.grid == (2 * h8, 2 * w8):
        row, col = torch.div(token, p.grid[1], rounding_mode="floor"), token % p.grid[1]
        token = torch.div(row, 2, rounding_mode="floor") * w8 + torch.div(col, 2, rounding_mode="floor")
    return token


class V2bEncoderInput(nn.Module):
    def __init__(self, model, neck, dims, stride):
        super().__init__()
        self.model, self.neck, self.dims, self.stride = model, neck, dims, stride
        self.register_buffer("reference_points", encoder_reference_points(dims["level_shapes"]), persistent=False)

    def forward(self, image):
        m = self.model
        levels, heat, wh = teacher_levels(self.neck, image)
        p = decode_proposals(m, levels, heat, wh, self.stride)
        srcs = m.level_features(levels)
        src, pos, _ = m.flatten_levels(srcs, m.position_encodings(srcs))
        layer = m.transformer.encoder.layers[0]
        value, offsets, logits = attention_projections(
            layer.self_attn, src + pos, src, self.dims, self.dims["enc_points"]
        )
        reference_points = self.reference_points + 0 * src[:, :1, :1, None]
        token = level8_token(p, m.feature_size).to(src.dtype)
        return (src, pos, reference_points, value, offsets, logits, *proposal_tensors(m, p, token))


def proposal_tensors(model, p, token):
    """encoder_input's PROPOSALS outputs (v2b, v3): prop_boxes, prop_token (float), prop_extra (score_embed +
    label_embed: the query content beside the memory token), prop_base (model_b.base_logits as graph ops)."""
    extra = model.score_embed(p.class_logits.sigmoid()) + model.label_embed(p.labels)
    # model_b.base_logits' scatter (ScatterElements), not `labels == arange(C)`: onnxruntime-web 1.30's WebGPU (JSEP)
    # Equal gave wrong results in the v3 graph.
    if getattr(model, "base", "proposal_class") == "anchor":
        base = p.class_logits  # model_v3's "anchor" base logits: the anchor's 80 SSDLite logits as they are
    else:
        base = torch.full_like(p.class_logits, model.other_class_logit)
        base = base.scatter(2, p.labels[..., None], p.logit[..., None])
    return p.boxes, token, extra, base


class V2bDecoderInput(nn.Module):
    def __init__(self, model, dims):
        super().__init__()
        self.model, self.dims = model, dims

    def forward(self, src, core, boxes, token, extra):
        t, d = self.model.transformer, self.dims["hidden"]
        memory = finish_encoder_layer(t.encoder.layers[-1], src, core)
        n, s, _ = memory.shape
        heads = self.dims["heads"]
        values = [layer.cross_attn.value_proj(memory).view(n, s, heads, d // heads) for layer in t.decoder.layers]
        index = token.round().long()[..., None].expand(-1, -1, d)
        tgt = torch.gather(memory, 1, index) + extra
        query_pos = t.pos_trans_norm(t.pos_trans(proposal_position_embedding(inverse_sigmoid(boxes), d // 2)))[..., :d]
        layer = t.decoder.layers[0]
        tgt = decoder_self_attention(layer, tgt, query_pos)
        _, offsets, logits = attention_projections(
            layer.cross_attn, tgt + query_pos, None, self.dims, self.dims["dec_points"]
        )
        reference = boxes + 0 * memory[:, :1, :1]  # a graph output computed by the graph
        return (tgt, query_pos, reference, expand_reference(boxes, self.dims["levels"]), offsets, logits, *values)


class V2bHead(nn.Module):
    def __init__(self, model, dims):
        super().__init__()
        self.model, self.dims = model, dims

    def forward(self, tgt, core, reference, base):
        last = self.dims["decoder_layers"] - 1
        hs = finish_decoder_layer(self.model.transformer.decoder.layers[last], tgt, core)
        return self.model.class_embed[last](hs) + base, refine_reference(self.model.bbox_embed[last], hs, reference)


PROPOSALS = ["prop_boxes", "prop_token", "prop_extra", "prop_base"]


def v2b_plan(model, neck, dims, stride):
    """export/deformable_segments.deformable_plan with the three v2b segments swapped in."""
    return proposal_plan(model, dims, V2bEncoderInput(model, neck, dims, stride))


def proposal_plan(model, dims, encoder_input):
    """The split plan of a model whose proposals come from its encoder_input graph (v2b, v3): that graph, and v2b's
    decoder_input (queries from the proposal tensors) and head (+ prop_base)."""
    plan = deformable_plan(model, dims, None)
    seg = plan.segments
    seg["encoder_input"].module = encoder_input
    seg["encoder_input"].outputs = seg["encoder_input"].outputs + PROPOSALS
    seg["decoder_input"].module = V2bDecoderInput(model, dims)
    seg["decoder_input"].inputs = seg["decoder_input"].inputs + PROPOSALS[:3]
    seg["head"].module = V2bHead(model, dims)
    seg["head"].inputs = seg["head"].inputs + ["prop_base"]
    return plan


def v2b_dims(model, config):
    m, size = config["model"], int(config["feature_size"])
    return {
        "hidden": m["hidden_dim"],
        "heads": m["nheads"],
        "levels": m["num_feature_levels"],
        "level_shapes": [(size // s, size // s) for s in (8, 16, 32)],
        "enc_points": m["enc_n_points"],
        "dec_points": m["dec_n_points"],
        "encoder_layers": m["enc_layers"],
        "decoder_layers": m["dec_layers"],
        "queries": m["num_queries"],
        "ffn": m["dim_feedforward"],
        "num_classes": len(config["classes"]),
        "box_refine": True,
        "two_stage": True,
    }


def package_description(checkpoint, config, dims, exporter, backbone, score_threshold) -> dict:
    """The manifest's model / input / output / architecture sections of a v2b-style package (v2b, v3)."""
    size = int(config["feature_size"])
    return {
        "model": {
            "family": "deformable-detr",
            "variant": "two-stage",
            "singleScale": False,
            "source": {"checkpoint": Path(checkpoint).name, "sha256": file_digest(checkpoint)},
            "exporter": exporter,
        },
        "input": {
            "sizePolicy": {"kind": "fixed", "height": size, "width": size},
            "resize": "bilinear-stretch",
            **INPUT_0_255,
            "layout": "NCHW",
        },
        "output": {
            "logits": "pred_logits",
            "boxes": "pred_boxes",
            "classActivation": "sigmoid",
            "classNames": list(config["classes"]),
            "boxFormat": "cxcywh-normalized",
            "scoreThreshold": float(score_threshold),
            "topK": dims["queries"],
            "duplicateIou": DUPLICATE_IOU,
        },
        "architecture": {
            "hiddenDim": dims["hidden"],
            "numQueries": dims["queries"],
            "encoderLayers": dims["encoder_layers"],
            "decoderLayers": dims["decoder_layers"],
            "numHeads": dims["heads"],
            "numLevels": dims["levels"],
            "encoderPoints": dims["enc_points"],
            "decoderPoints": dims["dec_points"],
            "levelShapes": [list(s) for s in dims["level_shapes"]],
            "ffnDim": dims["ffn"],
            "backbone": backbone,
        },
    }


def export_v2b(
    checkpoint, model_json, out_dir, fp16=False, stride=None, score_threshold=SCORE_THRESHOLD, progress=print
):
    started = time.time()
    model, config, step = load_v2b(checkpoint)
    stride = int(stride or proposal_stride(config))  # the manifest names the stride the graphs decode at
    neck = TeacherNeck(Path(model_json)).eval()
    size = int(config["feature_size"])
    dims = v2b_dims(model, config)
    progress(
        f"detector v2b (step {step}): hidden {dims['hidden']}, heads {dims['heads']}, levels {dims['level_shapes']}, "
        f"layers {dims['encoder_layers']}+{dims['decoder_layers']}, queries {dims['queries']} (teacher peaks, stride "
        f"{stride}), {dims['num_classes']} classes, input {size}x{size} (0-255), fp16 {fp16}"
    )
    description = package_description(
        checkpoint, config, dims, f"{EXPORTER} (teacher proposals at stride {stride})", BACKBONE_NAME, score_threshold
    )
    plan = v2b_plan(model, neck, dims, stride)
    return write_proposal_package(plan, size, out_dir, description, fp16, started, progress)


def write_proposal_package(plan, size, out_dir, description, fp16, started, progress, int8=False):
    """The split package (fixed size x size input, TF SAME pads folded) of a v2b / v3 plan, and its summary line."""
    manifest = write_package(
        plan,
        {"image": torch.zeros(1, 3, size, size)},
        out_dir,
        description,
        single_graph=False,
        fp16=fp16,
        fold_pads=True,
        progress=progress,
        int8=int8,
    )
    total = sum(g["bytes"] for g in manifest["graphs"])
    progress(
        f"wrote {out_dir}/manifest.json: {len(manifest['graphs'])} graphs, {total / 1e6:.1f} MB, "
        f"{time.time() - started:.1f} s"
    )
    return manifest


@torch.no_grad()
def round_weights_fp16(module, min_elements=16, skip=()):
    """What export/onnx_io.weights_to_fp16 does to a graph's weights (float initializers of >= min_elements stored
    as float16, computed in float32), done to the PyTorch module's parameters and buffers: the reference of an fp16
    package. skip: tensors left as they are (those export/int8.quantize_int8_ put on an int8 grid: the package
    stores them as int8, exactly)."""
    skipped = {id(t) for t in skip}
    for tensor in list(module.parameters()) + list(module.buffers()):
        if id(tensor) in skipped:
            continue
        if tensor.is_floating_point() and tensor.numel() >= min_elements:
            tensor.copy_(tensor.half().float())
    return module


@torch.no_grad()
def write_v2b_fixture(checkpoint, model_json, package, out, image, stride=None, max_side=None):
    """The Node parity fixture (test/shipped/detector-v2b-parity.test.ts): the picture as PNG (shrunk to max_side
    first if given: a cheap test), V2bForward's logits / boxes on the runtime's input (with the weights rounded to
    float16 as the package stores them when its manifest says fp16), and the graph digests of the package."""
    model, config, step = load_v2b(checkpoint)
    stride = int(stride or proposal_stride(config))
    forward = V2bForward(model, TeacherNeck(Path(model_json)).eval(), stride)
    return write_fixture(forward, checkpoint, step, package, out, image, max_side, {"proposalStride": stride})


@torch.no_grad()
def write_fixture(forward, checkpoint, step, package, out, image, max_side=None, extra=None, rounded=False):
    """A parity fixture of `forward` (image [1,3,S,S] 0-255 -> (logits, boxes)) for a package: input.png (the
    picture, shrunk to max_side first if given), logits.npy / boxes.npy on the runtime's input (forward's weights
    rounded to float16 first when the manifest says fp16: round_weights_fp16 changes `forward` in place) and
    expected.json (checkpoint, step, the package's graph digests, shapes, plus `extra`). rounded: `forward`'s weights
    are already as the package stores them (v3's shipped_forward), so nothing is rounded here."""
    import json

    import numpy as np
    from PIL import Image

    from .inputs import model_input

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rgb = Image.open(image).convert("RGB")
    if max_side and max(rgb.size) > max_side:
        scale = max_side / max(rgb.size)
        rgb = rgb.resize((round(rgb.width * scale), round(rgb.height * scale)), Image.BILINEAR)
    rgb.save(out / "input.png")
    rgb = Image.open(out / "input.png").convert("RGB")  # exactly what the test decodes
    manifest = json.loads((Path(package) / "manifest.json").read_text())
    weights = {g["weights"] for g in manifest["graphs"]}
    fp16 = weights <= {"fp16", "int8"}
    if fp16 and not rounded:
        round_weights_fp16(forward)
    logits, boxes = forward(model_input(rgb, manifest["input"]["sizePolicy"]["height"]))
    np.save(out / "logits.npy", logits.numpy().astype(np.float32))
    np.save(out / "boxes.npy", boxes.numpy().astype(np.float32))
    record = {
        "image": Path(image).name,
        "size": list(rgb.size),
        "checkpoint": Path(checkpoint).name,
        "checkpointSha256": file_digest(checkpoint),
        "step": step,
        **(extra or {}),
        "weights": "int8" if "int8" in weights else "fp16" if fp16 else "fp32",
        "graphs": {g["file"]: g["sha256"] for g in manifest["graphs"]},
        "logitsShape": list(logits.shape),
        "boxesShape": list(boxes.shape),
    }
    (out / "expected.json").write_text(json.dumps(record, indent=1) + "\n")
    return record
