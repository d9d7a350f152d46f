"""Input size policies of a package: fixed (stretch to height x width) or shorter-side (the official resize).

shorter-side is the official Deformable-DETR evaluation resize (datasets/transforms.py get_size_with_aspect_ratio,
also Hugging Face's DeformableDetrImageProcessor with size {shortest_edge, longest_edge}): the shorter side becomes
`shortest` unless the longer would then exceed `longest`, in which case the shorter side becomes
round(longest * shorter / longer); the longer side is truncated, int(s * longer / shorter). The runtime computes the
same size (src/package/size-policy.ts) and the graphs run at it (dynamic spatial shapes).

API:
- resolve_size_policy(spec, hf_preprocess=None) -> manifest sizePolicy dict ({"kind": "fixed"} when spec is None)
- official_size(width, height, shortest, longest, longer_side="official") -> (out_width, out_height); longer_side
  "unrounded" is recent transformers' rounding of the longer side (the manifest's sizePolicy.longerSide)
- level_strides(levels) -> per-level strides of the ResNet / input_proj features (8, 16, 32, 64, ...)
- check_level_strides(features, strides): ceil(H / stride) is every level's shape on odd sizes, or SizePolicyError
"""
import math

SHORTER_SIDE = "shorter-side"


class SizePolicyError(ValueError):
    """A size policy the exporter cannot give (message says what is supported)."""


LONGER_SIDE_RULES = ("official", "unrounded")


def official_size(width, height, shortest, longest, longer_side="official"):
    """The official get_size_with_aspect_ratio, as (out_width, out_height). longer_side "unrounded" is recent
    transformers' variant: when `longest` caps the size, the longer side is int(raw * longer / shorter) with the
    unrounded raw = longest * shorter / longer (the official code uses round(raw))."""
    if longer_side not in LONGER_SIDE_RULES:
        raise SizePolicyError(f"longerSide must be one of {', '.join(LONGER_SIDE_RULES)}, got {longer_side!r}")
    size, raw = shortest, None
    small, large = float(min(width, height)), float(max(width, height))
    if longest is not None and large / small * size > longest:
        raw = longest * small / large
        size = int(round(raw))
    if (width <= height and width == size) or (height <= width and height == size):
        return width, height
    base = raw if longer_side == "unrounded" and raw is not None else size
    if width < height:
        return size, int(base * height / width)
    return int(base * width / height), size


def resolve_size_policy(spec, hf_preprocess=None):
    """spec: None (fixed); a dict {"kind": "shorter-side", "shortest", "longest", "longerSide"?}; or "preprocessor"
    / {"kind": "preprocessor", "longerSide"?} (a Hugging Face checkpoint's preprocessor_config.json size; its
    longerSide defaults to "unrounded", as transformers' image processors resize). Returns the manifest's
    sizePolicy (fixed: {"kind": "fixed"} only; the exporter adds height and width)."""
    if spec is None:
        return {"kind": "fixed"}
    if spec == "preprocessor" or (isinstance(spec, dict) and spec.get("kind") == "preprocessor"):
        if hf_preprocess is None:
            raise SizePolicyError(
                "--size-policy preprocessor needs a Hugging Face checkpoint (preprocessor_config.json)"
            )
        size = hf_preprocess["size"]
        if "shortest_edge" not in size:
            raise SizePolicyError(
                f"preprocessor_config.json size {size} is not a shortest_edge / longest_edge rule; export with "
                "--shortest/--longest or a fixed --height/--width"
            )
        longer_side = (spec.get("longerSide") if isinstance(spec, dict) else None) or "unrounded"
        spec = {
            "kind": SHORTER_SIDE,
            "shortest": size["shortest_edge"],
            "longest": size.get("longest_edge", 1333),
            "longerSide": longer_side,
        }
    if not isinstance(spec, dict) or spec.get("kind") != SHORTER_SIDE:
        raise SizePolicyError(f"unknown size policy {spec!r}")
    shortest, longest = int(spec["shortest"]), int(spec["longest"])
    if shortest < 1 or longest < shortest:
        raise SizePolicyError(f"size policy needs 1 <= shortest <= longest, got shortest {shortest}, longest {longest}")
    longer_side = spec.get("longerSide") or "official"
    if longer_side not in LONGER_SIDE_RULES:
        raise SizePolicyError(f"longerSide must be one of {', '.join(LONGER_SIDE_RULES)}, got {longer_side!r}")
    policy = {"kind": SHORTER_SIDE, "shortest": shortest, "longest": longest}
    # written only when it is not the default, so official packages keep their manifests
    return {**policy, "longerSide": longer_side} if longer_side != "official" else policy


def level_strides(levels):
    """Strides of Deformable-DETR's feature levels: C3..C5 (8, 16, 32) then the extra stride-2 input_proj levels;
    single-scale (1 level) is C5 alone (32)."""
    if levels == 1:
        return [32]
    return [8 * 2**level for level in range(levels)]


def check_level_strides(features, strides, sizes=((37, 53), (64, 21), (97, 130))):
    """features(h, w) -> the level feature maps of an h x w input; each must be ceil(h / s) x ceil(w / s)."""
    for height, width in sizes:
        shapes = [tuple(int(v) for v in f.shape[2:]) for f in features(height, width)]
        expected = [(math.ceil(height / s), math.ceil(width / s)) for s in strides]
        if shapes != expected:
            raise SizePolicyError(
                f"the backbone's level shapes {shapes} at {height}x{width} are not ceil(size / stride) {expected}; "
                "this backbone cannot run with dynamic shapes, export with a fixed --height/--width"
            )
