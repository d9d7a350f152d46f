"""The bilinear fixture generator: torch agrees with an independent numpy formulation, the cases cover
what issue 3 asks for, and the committed fixtures are what the script regenerates (floats within 1e-6)."""
import json

import numpy as np
import pytest

from fixtures import bilinear as gen  # tools/fixtures/bilinear.py (tools/ is on pytest's pythonpath)
from webdetr_tools.artifact_compare import float_differences


def weight_matrix(in_size: int, out_size: int, mode: str) -> np.ndarray:
    """[out, in] interpolation weights written from the definitions, as dense matrices."""
    scale = in_size / out_size
    centers = scale * (np.arange(out_size) + 0.5)  # output pixel centres in input coordinates
    if mode == "antialias":
        # Triangle filter stretched by the downscale factor, renormalized over in-image pixels.
        stretch = max(scale, 1.0)
        dist = np.abs((np.arange(in_size) + 0.5)[None, :] - centers[:, None]) / stretch
        w = np.maximum(0.0, 1.0 - dist)
        return w / w.sum(axis=1, keepdims=True)
    src = np.maximum(centers - 0.5, 0.0)  # align_corners=False, clamped at the top/left edge
    i0 = np.floor(src).astype(int)
    i1 = np.minimum(i0 + 1, in_size - 1)
    lam = src - i0
    w = np.zeros((out_size, in_size))
    np.add.at(w, (np.arange(out_size), i0), 1.0 - lam)
    np.add.at(w, (np.arange(out_size), i1), lam)
    return w


def numpy_resize(rgb: np.ndarray, out_h: int, out_w: int, mode: str) -> np.ndarray:
    """rgb [3, H, W] float64 -> [3, out_h, out_w]."""
    wy = weight_matrix(rgb.shape[1], out_h, mode)
    wx = weight_matrix(rgb.shape[2], out_w, mode)
    return np.einsum("oh,chw,pw->cop", wy, rgb, wx)


@pytest.mark.parametrize("mode", ["bilinear", "antialias"])
@pytest.mark.parametrize(
    "size", [(7, 5, 3, 2), (5, 7, 13, 11), (40, 9, 5, 9), (17, 1, 1, 1), (1, 1, 3, 4), (64, 48, 8, 6)]
)
def test_torch_matches_numpy_definition(mode, size):
    in_w, in_h, out_w, out_h = size
    rgba = gen.random_rgba(np.random.RandomState(sum(size)), in_w, in_h)
    x = gen.to_tensor(rgba)
    got = gen.resize(x, out_h, out_w, mode)[0].numpy()
    want = numpy_resize(x[0].numpy(), out_h, out_w, mode)
    assert np.abs(got - want).max() < 1e-12


def pil_fixed_point_taps(in_size: int, out_size: int) -> list[tuple[int, list[int]]]:
    """Pillow Resample.c as we read it: antialias weights as round(w * 2^22), per output index."""
    scale = in_size / out_size
    stretch = max(scale, 1.0)
    taps = []
    for i in range(out_size):
        center = scale * (i + 0.5)
        lo = max(int(center - stretch + 0.5), 0)
        hi = min(int(center + stretch + 0.5), in_size)
        w = np.maximum(0.0, 1.0 - np.abs(np.arange(lo, hi) + 0.5 - center) / stretch)
        taps.append((lo, [int(0.5 + v * (1 << 22)) for v in w / w.sum()]))
    return taps


def fixed_point_pass(a: np.ndarray, taps) -> np.ndarray:
    """Resamples the last axis of uint8 `a`: (2^21 + sum k * a) >> 22, clamped to 0..255."""
    out = np.zeros(a.shape[:-1] + (len(taps),), dtype=np.int64)
    for i, (lo, ks) in enumerate(taps):
        acc = np.full(a.shape[:-1], 1 << 21, dtype=np.int64)
        for j, k in enumerate(ks):
            acc += a[..., lo + j].astype(np.int64) * k
        out[..., i] = np.clip(acc >> 22, 0, 255)
    return out


@pytest.mark.parametrize(
    "size", [(7, 5, 3, 2), (5, 7, 13, 11), (40, 9, 5, 9), (17, 1, 1, 1), (64, 48, 8, 6), (153, 136, 128, 128)]
)
def test_pil_matches_fixed_point_model(size):
    """Pillow's uint8 bilinear resize = horizontal fixed-point pass to uint8, then vertical."""
    in_w, in_h, out_w, out_h = size
    rgba = gen.random_rgba(np.random.RandomState(sum(size)), in_w, in_h)
    rgb = rgba[..., :3].transpose(2, 0, 1)  # [3, H, W]
    horizontal = fixed_point_pass(rgb, pil_fixed_point_taps(in_w, out_w))
    model = fixed_point_pass(horizontal.transpose(0, 2, 1), pil_fixed_point_taps(in_h, out_h)).transpose(0, 2, 1)
    np.testing.assert_array_equal(np.rint(gen.pil_resize(rgba, out_h, out_w) * 255), model)


def test_pil_crop_rounds_like_round_rect():
    rgba = gen.random_rgba(np.random.RandomState(5), 30, 20)
    for rect in ([2.5, 3.5, 12.4, 17.6], [7.49, 1.51, 8.5, 3.5]):
        x0, y0, x1, y1 = gen.round_rect(rect)
        np.testing.assert_array_equal(gen.pil_resize(rgba, 5, 4, rect), gen.pil_resize(rgba[y0:y1, x0:x1], 5, 4))


def test_crop_rounding_is_python_round():
    assert gen.round_rect([2.5, 3.5, 12.4, 17.6]) == [2, 4, 12, 18]
    assert gen.round_rect([7.49, 1.51, 8.5, 3.5]) == [7, 2, 8, 4]


def test_cases_cover_issue_families():
    metas = [m for m, _, _ in gen.build_cases()]
    assert len(metas) >= 20
    assert {m["mode"] for m in metas} == {"bilinear", "antialias", "pil"}
    resize = [m for m in metas if m["op"] == "resize"]
    crop = [m for m in metas if m["op"] == "crop"]
    assert any(m["inWidth"] >= 8 * m["outWidth"] for m in resize)  # 8x downscale
    assert any(m["outWidth"] > m["inWidth"] for m in resize)  # upscale
    assert any(m["outWidth"] == m["outHeight"] == 1 for m in resize)
    assert any(m["inWidth"] % 2 and m["inHeight"] % 2 for m in resize)
    rects = [(m, gen.round_rect(r)) for m in crop for r in m["rects"]]
    assert any(r[2] - r[0] == 1 and r[3] - r[1] == 1 for _, r in rects)  # 1-pixel crop
    assert any(r[0] == 0 for _, r in rects) and any(r[1] == 0 for _, r in rects)
    assert any(r[2] == m["inWidth"] for m, r in rects) and any(r[3] == m["inHeight"] for m, r in rects)
    assert any(len(m["rects"]) >= 3 for m in crop)


def test_committed_fixtures_are_regenerated(repo_dir, tmp_path):
    """Metadata and the 8-bit input pictures exactly; the expected float32 values within artifact_compare.RTOL (an
    ULP may differ between CPUs), and in 'pil' mode on exactly the same 8-bit levels (PIL rounds to bytes)."""
    committed = repo_dir / "test" / "fixtures" / "bilinear"
    metas = gen.write_fixtures(tmp_path)
    assert json.loads((committed / "cases.json").read_text()) == {"cases": metas}
    for meta in metas:
        name = f"{meta['name']}.bin"
        generated, stored = (tmp_path / name).read_bytes(), (committed / name).read_bytes()
        pixels = meta["inWidth"] * meta["inHeight"] * 4
        assert len(generated) == len(stored) and generated[:pixels] == stored[:pixels], name
        values = [np.frombuffer(blob[pixels:], "<f4") for blob in (generated, stored)]
        assert float_differences(*values, name) == []
        if meta["mode"] == "pil":
            np.testing.assert_array_equal(np.rint(values[0] * 255.0), np.rint(values[1] * 255.0), name)
    total = sum(p.stat().st_size for p in committed.iterdir())
    assert total < 3_000_000
