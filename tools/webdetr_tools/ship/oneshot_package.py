"""The one-shot model (oneshot/model.py: Deformable-DETR + UP-DETR query-patch branch on frozen CenterNet
features) -> a model package with two pipelines (four with RoI descriptors, below):

  image   (image [1,3,S,S] 0-255)  encoder_input -> kernel -> encoder_k ... -> memory_values
          -> dec_value_k: the image memory projected for every decoder layer (kept between queries)
  patches (after image; patches [1,K,3,P,P] 0-255, K = 1..max_patches: the dynamic axis "patches")
          patch_queries (backbone GAP -> patch2query -> grouped queries, decoder layer 0 masked
          self-attention + cross-attention projections) -> kernel -> patch_decoder_k ... -> patch_head

A model with RoI patch descriptors (config patch_descriptor 'roi', oneshot/patches.py) takes the patches
as boxes instead of pixels: input patches [1, K, 4] xyxy relative to the image (manifest queryPatch.kind
"boxes"), and the graph patch_descriptors pools the image's backbone taps (encoder_input's outputs
image_tap_s8/16/32, kept with the image encoding) over them (a MatMul per tap, patches.roi_descriptors) for
patch_queries; no backbone pass per patch, and the package holds the backbone once. Such a package also has
zoomed search's two pipelines over the same graphs (zoom_pipelines; manifest queryPatch.zoom = ZOOM):
describe_patches (patches -> patch_descriptors, in the encoded view) and patches_from_descriptors (descriptors
pooled in another view -> logits and boxes in this one). A calibrated model (score_calibration,
oneshot/calibration.py) also passes the patch descriptors (patch_descriptors), and with calibration_scale the patch
boxes (the pipeline's input `patches`), to patch_head, whose logit is then the calibrated match logit: the raw logit,
each box's RoI-descriptor cosine to its patch per tap, its overlap with a stronger box of its patch and its size against
the patch's, combined linearly. A model whose box sizes are relative to the patch's (box_size_prior) passes
the patch boxes to patch_head too.

K is a dynamic ONNX axis (symbol "patches"; query dims "patches*G", also the decoder kernel stages'
`queries`), so a re-query runs exactly the real patches. Nothing in the patch graphs bakes K: the grouped
queries are broadcasts + flatten, and the block-diagonal self-attention mask is built in-graph from the
runtime query count (arange comparisons). A patch's queries never see another patch's (the mask; shared
slot embeddings and reference points), so its results equal a run with that patch alone. The manifest's
queryPatch.maxPatches (the checkpoint's max_patches) stays the upper bound the runtime enforces.

API
  load_oneshot(checkpoint) -> (OneShotDETR eval, model config dict, step)
  oneshot_plan(model, backbone, level_shapes) -> Plan (plan.extra['symbolic']: the dynamic axes per tensor)
  export_oneshot(checkpoint, model_json, out_dir, fp16=False, progress=print, single_graph=False, max_patches=None)
      -> manifest
  reference_outputs(model, backbone, image, patches) -> (logits, boxes): the PyTorch forward the package must equal
  example_patches(config, k), query_patch_section(config, k): the patch input of crop or 'roi' models
"""
import time
from pathlib import Path

import torch
from torch import nn

from ..export.deformable_segments import (
    attention_projections,
    encoder_reference_points,
    finish_decoder_layer,
    finish_encoder_layer,
    inverse_sigmoid,
)
from ..export.manifest import file_digest
from ..export.package import write_package
from ..export.plan import KernelCall, Pipeline, Plan, Segment
from ..oneshot.model import OneShotConfig, OneShotDETR
from ..oneshot.patches import roi_descriptors
from .centernet import BACKBONE_NAME, INPUT_0_255, STRIDES, load_backbone, pooled_patch_descriptors, project_taps

TAPS = [f"image_tap_s{s}" for s in STRIDES]  # 'roi' packages: the backbone's taps, read by patch_queries
DESCRIPTORS = "patch_descriptors"  # calibrated packages: [1, K, 664], patch_queries -> patch_head

# Suggested minimum score (manifest output.scoreThreshold) of an uncalibrated checkpoint: where matches
# start (model card examples); the default threshold of detect calls and of the demo. A calibrated one
# carries its own (tools/calibrate_oneshot.py: the best F2 on the training same-image pairs).
SCORE_THRESHOLD = 0.15
EXPORTER = "webdetr_tools.ship.oneshot 4"
PATCHES = "patches"
DESCRIBE, FROM_DESCRIPTORS = "describe_patches", "patches_from_descriptors"  # zoom_pipelines
# Zoomed search of 'roi' packages (manifest input.queryPatch.zoom; evaluated by tools/eval_shipped_oneshot.py): a
# query whose longer side is under `below` of the image also searches grid x grid windows of `side`, the views'
# boxes merged by NMS at nmsIou. 2:0.6:0.2 is the configuration measured at +10 AP50 on all four sets
# (tools/results/oneshot_experiment_zoom.json, then oneshot_shipped.json).
ZOOM = {"grid": 2, "side": 0.6, "below": 0.2, "nmsIou": 0.5}


def score_threshold(checkpoint) -> float:
    payload = torch.load(str(checkpoint), map_location="cpu")
    return float(payload.get("calibration", {}).get("score_threshold", SCORE_THRESHOLD))


def load_oneshot(checkpoint):
    payload = torch.load(str(checkpoint), map_location="cpu")
    model = OneShotDETR(OneShotConfig.from_dict(payload["model_config"]))
    model.load_state_dict({k: v.float() for k, v in payload["model"].items()})
    return model.eval(), payload["model_config"], payload.get("iteration")


def _dims(model, level_shapes):
    c = model.config
    return {
        "hidden": c.d_model,
        "heads": c.nheads,
        "levels": len(level_shapes),
        "level_shapes": level_shapes,
        "points": c.n_points,
        "slots": c.queries_per_patch,
        "patches": c.max_patches,
    }


def block_mask(queries, per_patch):
    """[Q, Q] additive self-attention mask for queries [N, Q, d] in groups of per_patch (0 within a group,
    -inf across), built from the runtime Q so the exported graph takes any patch count (= group_mask(K, G))."""
    group = torch.div(torch.arange(queries.shape[1], device=queries.device), per_patch, rounding_mode="floor")
    same = group[:, None] == group[None, :]
    return torch.zeros(same.shape, dtype=queries.dtype, device=queries.device).masked_fill(~same, float("-inf"))


def masked_self_attention(layer, tgt, query_pos, per_patch):
    mask = block_mask(tgt, per_patch)
    q = (tgt + query_pos).transpose(0, 1)
    out = layer.self_attn(q, q, tgt.transpose(0, 1), attn_mask=mask)[0].transpose(0, 1)
    return layer.norm2(tgt + out)


class EncoderInput(nn.Module):
    def __init__(self, model, backbone, dims):
        super().__init__()
        self.model, self.backbone, self.dims = model, backbone, dims
        self.register_buffer("reference_points", encoder_reference_points(dims["level_shapes"]), persistent=False)

    def forward(self, image):
        taps = self.backbone(image)
        srcs, pos_embeds = project_taps(taps, self.model.input_proj)
        src = torch.cat([s.flatten(2).transpose(1, 2) for s in srcs], 1)
        pos = torch.cat(
            [p.flatten(2).transpose(1, 2) + self.model.level_embed[l].view(1, 1, -1) for l, p in enumerate(pos_embeds)],
            1,
        )
        value, offsets, logits = attention_projections(
            self.model.encoder[0].self_attn, src + pos, src, self.dims, self.dims["points"]
        )
        out = (src, pos, self.reference_points + 0 * src[:, :1, :1, None], value, offsets, logits)
        return out + tuple(taps) if roi_patches(self.model) else out


class EncoderStep(nn.Module):
    def __init__(self, model, dims, index):
        super().__init__()
        self.model, self.dims, self.index = model, dims, index

    def forward(self, src, core, pos):
        src = finish_encoder_layer(self.model.encoder[self.index - 1], src, core)
        value, offsets, logits = attention_projections(
            self.model.encoder[self.index].self_attn, src + pos, src, self.dims, self.dims["points"]
        )
        return src, value, offsets, logits


class MemoryValues(nn.Module):
    """Finish the encoder; project the memory for each decoder layer's cross-attention."""

    def __init__(self, model, dims):
        super().__init__()
        self.model, self.dims = model, dims

    def forward(self, src, core):
        memory = finish_encoder_layer(self.model.encoder[-1], src, core)
        n, s, d = memory.shape
        heads = self.dims["heads"]
        return tuple(layer.cross_attn.value_proj(memory).view(n, s, heads, d // heads) for layer in self.model.decoder)


class PatchQueries(nn.Module):
    """Patches -> grouped queries (oneshot.model.patch_queries) -> decoder layer 0 up to its sampling.
    K comes from the patches input: queries are broadcasts + flatten, no K-sized constant."""

    def __init__(self, model, backbone, dims):
        super().__init__()
        self.model, self.backbone, self.dims = model, backbone, dims
        d = dims["hidden"]
        with torch.no_grad():
            reference = model.reference_points(model.query_embed.weight[:, :d]).sigmoid()  # [G, 2]
        self.register_buffer(
            "reference_slot", reference[:, None].expand(-1, dims["levels"], -1).contiguous(), persistent=False
        )  # [G, L, 2]

    def forward(self, patches):
        return self.queries(pooled_patch_descriptors(self.backbone, patches))  # [1, K, sum C]

    def queries(self, descriptors, boxes=None):
        d = self.dims["hidden"]
        feature = self.model.patch_feature(descriptors, boxes)[:, :, None]  # [1, K, 1, d]
        pos_slot, tgt_slot = self.model.query_embed.weight.split(d, dim=1)  # [G, d] each
        # slot j*G + s: pos_slot[s] + feature[j] (= pos_slot.repeat(K) + repeat_interleave(G))
        query_pos = (pos_slot + feature).flatten(1, 2)
        tgt = (tgt_slot + 0 * feature).flatten(1, 2)
        reference = (self.reference_slot + 0 * feature[..., None, :1]).flatten(1, 2)  # [1, K*G, L, 2]
        layer = self.model.decoder[0]
        tgt = masked_self_attention(layer, tgt, query_pos, self.dims["slots"])
        _, offsets, logits = attention_projections(
            layer.cross_attn, tgt + query_pos, None, self.dims, self.dims["points"]
        )
        return tgt, query_pos, reference, offsets, logits


class PatchDescriptors(nn.Module):
    """'roi' models: boxes [1, K, 4] xyxy in [0, 1] + the image's taps -> patch descriptors [1, K, sum C]."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, boxes, *taps):
        return roi_descriptors(list(taps), boxes, self.model.config.roi_samples)


class RoiPatchQueries(PatchQueries):
    """'roi' models: patch descriptors (+ the boxes, when the queries take the patch sizes) -> the same queries.
    A separate graph from PatchDescriptors, so zoomed search can pool the descriptors in one view (a window
    holding the patch) and decode them in others."""

    def forward(self, descriptors, boxes=None):
        return self.queries(descriptors, boxes)


def roi_patches(model) -> bool:
    return model.config.patch_descriptor == "roi"


def calibrated(model) -> bool:
    return model.config.score_calibration is not None


class PatchDecoderStep(nn.Module):
    def __init__(self, model, dims, index):
        super().__init__()
        self.model, self.dims, self.index = model, dims, index

    def forward(self, tgt, core, query_pos):
        hs = finish_decoder_layer(self.model.decoder[self.index - 1], tgt, core)
        layer = self.model.decoder[self.index]
        tgt = masked_self_attention(layer, hs, query_pos, self.dims["slots"])
        _, offsets, logits = attention_projections(
            layer.cross_attn, tgt + query_pos, None, self.dims, self.dims["points"]
        )
        return tgt, offsets, logits


class PatchHead(nn.Module):
    """Last decoder layer's heads: match logit [1, K*G, 1] and cxcywh box [1, K*G, 4] relative to the image."""

    def __init__(self, model, dims):
        super().__init__()
        self.model, self.dims = model, dims

    def forward(self, tgt, core, reference_input, *rest):
        """rest: a calibrated model's descriptors and taps, then the patch boxes when the calibration weighs sizes
        (calibration_scale) or box sizes are relative to the patch's (box_size_prior)."""
        config = self.model.config
        descriptors, taps = (
            (rest[0], list(rest[1 : 1 + len(config.channels)])) if calibrated(self.model) else (None, [])
        )
        patch_boxes = rest[-1] if head_takes_patch_boxes(self.model) else None
        hs = finish_decoder_layer(self.model.decoder[-1], tgt, core)
        delta = self.model.bbox_embed(hs)
        centre = delta[..., :2] + inverse_sigmoid(reference_input[:, :, 0])
        size = delta[..., 2:] + self.model.size_reference(patch_boxes)
        logits, boxes = self.model.class_embed(hs), torch.cat((centre, size), -1).sigmoid()
        if descriptors is None:
            return logits, boxes
        # calibrated models: the raw logit and each box's similarity to its patch (OneShotDETR.match_logits)
        return self.model.match_logits(taps, descriptors, logits, boxes, patch_boxes), boxes


def queries_take_patch_boxes(model) -> bool:
    return model.patch_scale is not None


def head_takes_patch_boxes(model) -> bool:
    config = model.config
    return config.box_size_prior or (calibrated(model) and config.calibration_scale)


def oneshot_plan(model, backbone, level_shapes):
    dims = _dims(model, level_shapes)
    enc, dec = model.config.enc_layers, model.config.dec_layers
    head_dim = dims["hidden"] // dims["heads"]
    segments = {}
    s = sum(h * w for h, w in level_shapes)
    queries = f"{PATCHES}*{dims['slots']}"  # the decoder kernels' query count, resolved per run

    def graph(stages, name, module, inputs, outputs):
        segments[name] = Segment(module, inputs, outputs)
        stages.append(("graph", name))

    def kernel(stages, name, value, reference, offsets, logits, output, n_queries):
        stages.append(
            (
                "kernel",
                KernelCall(
                    name,
                    value,
                    reference,
                    offsets,
                    logits,
                    output,
                    n_queries,
                    dims["heads"],
                    head_dim,
                    level_shapes,
                    dims["points"],
                    2,
                ),
            )
        )

    roi = roi_patches(model)
    image = []
    graph(
        image,
        "encoder_input",
        EncoderInput(model, backbone, dims),
        ["image"],
        ["enc_src_0", "enc_pos", "enc_reference_points", "enc_value_0", "enc_offsets_0", "enc_logits_0"]
        + (TAPS if roi else []),
    )
    for k in range(enc):
        kernel(
            image,
            f"encoder_{k}",
            f"enc_value_{k}",
            "enc_reference_points",
            f"enc_offsets_{k}",
            f"enc_logits_{k}",
            f"enc_core_{k}",
            s,
        )
        if k + 1 < enc:
            graph(
                image,
                f"encoder_{k + 1}",
                EncoderStep(model, dims, k + 1),
                [f"enc_src_{k}", f"enc_core_{k}", "enc_pos"],
                [f"enc_src_{k + 1}", f"enc_value_{k + 1}", f"enc_offsets_{k + 1}", f"enc_logits_{k + 1}"],
            )
    values = [f"dec_value_{k}" for k in range(dec)]
    graph(image, "memory_values", MemoryValues(model, dims), [f"enc_src_{enc - 1}", f"enc_core_{enc - 1}"], values)
    patches = []
    calibration = [DESCRIPTORS] if calibrated(model) else []
    query_outputs = ["dec_tgt_0", "dec_query_pos", "dec_reference_input", "dec_offsets_0", "dec_logits_0"]
    if roi:
        graph(patches, "patch_descriptors", PatchDescriptors(model), [PATCHES] + TAPS, [DESCRIPTORS])
        graph(
            patches,
            "patch_queries",
            RoiPatchQueries(model, None, dims),
            [DESCRIPTORS] + ([PATCHES] if queries_take_patch_boxes(model) else []),
            query_outputs,
        )
    else:
        graph(patches, "patch_queries", PatchQueries(model, backbone, dims), [PATCHES], query_outputs)
    for k in range(dec):
        kernel(
            patches,
            f"decoder_{k}",
            f"dec_value_{k}",
            "dec_reference_input",
            f"dec_offsets_{k}",
            f"dec_logits_{k}",
            f"dec_core_{k}",
            queries,
        )
        if k + 1 < dec:
            graph(
                patches,
                f"patch_decoder_{k + 1}",
                PatchDecoderStep(model, dims, k + 1),
                [f"dec_tgt_{k}", f"dec_core_{k}", "dec_query_pos"],
                [f"dec_tgt_{k + 1}", f"dec_offsets_{k + 1}", f"dec_logits_{k + 1}"],
            )
    graph(
        patches,
        "patch_head",
        PatchHead(model, dims),
        [f"dec_tgt_{dec - 1}", f"dec_core_{dec - 1}", "dec_reference_input"]
        + (calibration + TAPS if calibration else [])
        + (["patches"] if head_takes_patch_boxes(model) else []),
        ["pred_logits", "pred_boxes"],
    )
    per_patch = {
        name: {1: queries}
        for name in ["dec_query_pos", "dec_reference_input", "pred_logits", "pred_boxes"]
        + [f"dec_{kind}_{k}" for kind in ("tgt", "offsets", "logits", "core") for k in range(dec)]
    }
    pipelines = [
        Pipeline(
            "image",
            ["image"],
            values,
            image,
            description="CenterNet backbone + deformable encoder; memory projected for every decoder layer",
        ),
        Pipeline(
            "patches",
            ["patches"],
            ["pred_logits", "pred_boxes"],
            patches,
            after="image",
            description=f"query patches (1..{dims['patches']}, only the real ones"
            + ("; boxes pooled from the image's backbone taps" if roi else "")
            + f") -> {dims['slots']} queries each, block-diagonal group mask, decoded against the "
            "image memory",
        ),
    ]
    if roi:
        pipelines += zoom_pipelines(segments, patches)
    descriptors = [DESCRIPTORS] if roi else []
    return Plan(
        segments,
        pipelines,
        {"symbolic": {"patches": {1: PATCHES}, **{name: {1: PATCHES} for name in descriptors}, **per_patch}},
    )


def zoom_pipelines(segments, patch_stages):
    """Zoomed search (manifest queryPatch.zoom): the patches pipeline in two halves over the same graphs, so the
    runtime pools a small patch's descriptors in the window view that holds it (describe_patches, after that
    window's image run) and decodes them in every window view (patches_from_descriptors, after each one's)."""
    decode = patch_stages[1:]
    reads = {name for kind, item in decode if kind == "graph" for name in segments[item].inputs}
    return [
        Pipeline(
            DESCRIBE,
            [PATCHES],
            [DESCRIPTORS],
            patch_stages[:1],
            after="image",
            alternative=True,
            description="zoomed search: query patch boxes -> their descriptors, pooled from the encoded view's "
            "backbone taps",
        ),
        Pipeline(
            FROM_DESCRIPTORS,
            [DESCRIPTORS] + ([PATCHES] if PATCHES in reads else []),
            ["pred_logits", "pred_boxes"],
            decode,
            after="image",
            alternative=True,
            description="zoomed search: patch descriptors pooled in another view (and the patch boxes in that view)"
            " -> queries decoded against the encoded view's memory",
        ),
    ]


@torch.no_grad()
def reference_outputs(model, backbone, image, patches):
    """The training model's forward on the same inputs: image [1,3,S,S] 0-255, patches [1,K,3,P,P] 0-255
    ('roi' models: [1,K,4] xyxy boxes relative to the image)."""
    levels = backbone(image)
    descriptors = (
        roi_descriptors(levels, patches, model.config.roi_samples)
        if roi_patches(model)
        else pooled_patch_descriptors(backbone, patches)
    )
    boxes_in = patches if roi_patches(model) else None
    logits, boxes = model.decode(model.encode(levels), model.spatial_shapes(levels), descriptors, boxes_in)
    return model.match_logits(levels, descriptors, logits[-1], boxes[-1], boxes_in), boxes[-1]


def example_patches(config, k):
    """The traced example input: K crops of zeros, or K boxes of 'roi' models (any valid box: K is dynamic)."""
    if config["patch_descriptor"] == "roi":
        return torch.tensor([0.1, 0.2, 0.6, 0.7]).repeat(1, k, 1)
    return torch.zeros(1, k, 3, config["patch_size"], config["patch_size"])


def query_patch_section(config, k):
    """The manifest's input.queryPatch: crops of patch_size, or boxes ('roi': kind "boxes", no pixels)."""
    if config["patch_descriptor"] == "roi":
        return {"kind": "boxes", "maxPatches": k, "queriesPerPatch": config["queries_per_patch"], "zoom": dict(ZOOM)}
    return {
        "height": config["patch_size"],
        "width": config["patch_size"],
        "maxPatches": k,
        "queriesPerPatch": config["queries_per_patch"],
    }


def export_oneshot(checkpoint, model_json, out_dir, fp16=False, progress=print, single_graph=False, max_patches=None):
    """single_graph / max_patches: benchmark exports only (tools/build_models.py --bench-out); max_patches is
    the manifest's upper bound and the traced example's patch count (K itself is dynamic in the graphs)."""
    started = time.time()
    model, config, step = load_oneshot(checkpoint)
    config = model.config.to_dict()  # with the defaults of keys older checkpoints lack
    if max_patches is not None:
        model.config.max_patches = config["max_patches"] = int(max_patches)
    backbone = load_backbone(model_json)
    size, patch, k = config["image_size"], config["patch_size"], config["max_patches"]
    image = torch.zeros(1, 3, size, size)
    patches = example_patches(config, k)
    with torch.no_grad():
        level_shapes = OneShotDETR.spatial_shapes(backbone(image))
    progress(
        f"one-shot: d {config['d_model']}, heads {config['nheads']}, levels {level_shapes}, layers "
        f"{config['enc_layers']}+{config['dec_layers']}, {config['queries_per_patch']} queries x {k} patches "
        + (
            f"(RoI boxes, {config['roi_samples']}x{config['roi_samples']} samples)"
            if roi_patches(model)
            else f"of {patch}x{patch}"
        )
        + f", input {size}x{size} (0-255), iteration {step}"
    )
    description = {
        "model": {
            "family": "deformable-detr",
            "variant": "one-shot",
            "singleScale": False,
            "source": {"checkpoint": Path(checkpoint).name, "sha256": file_digest(checkpoint)},
            "exporter": EXPORTER,
        },
        "input": {
            "sizePolicy": {"kind": "fixed", "height": size, "width": size},
            "resize": "bilinear-stretch",
            **INPUT_0_255,
            "layout": "NCHW",
            "queryPatch": query_patch_section(config, k),
        },
        "output": {
            "logits": "pred_logits",
            "boxes": "pred_boxes",
            "classActivation": "sigmoid",
            "classNames": ["match"],
            "boxFormat": "cxcywh-normalized",
            "scoreThreshold": score_threshold(checkpoint),
            "topK": config["queries_per_patch"],
        },
        "architecture": {
            "hiddenDim": config["d_model"],
            "numQueries": config["queries_per_patch"],
            "encoderLayers": config["enc_layers"],
            "decoderLayers": config["dec_layers"],
            "numHeads": config["nheads"],
            "numLevels": len(level_shapes),
            "encoderPoints": config["n_points"],
            "decoderPoints": config["n_points"],
            "levelShapes": [list(s) for s in level_shapes],
            "ffnDim": config["dim_feedforward"],
            "backbone": BACKBONE_NAME,
        },
    }
    plan = oneshot_plan(model, backbone, level_shapes)
    manifest = write_package(
        plan,
        {"image": image, "patches": patches},
        out_dir,
        description,
        single_graph=single_graph,
        fp16=fp16,
        progress=progress,
    )
    total = sum(g["bytes"] for g in manifest["graphs"])
    progress(
        f"wrote {out_dir}/manifest.json: {len(manifest['graphs'])} graphs, {total / 1e6:.1f} MB, "
        f"{time.time() - started:.1f} s"
    )
    return manifest
