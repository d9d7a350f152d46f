"""artifact_compare holds across CPUs (an ULP apart is equal) yet fails on every change of meaning: a weight off by
1e-5, a changed Constant, an attribute, a renamed node, an extra file, a manifest field, a stale digest."""
import json
import shutil

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from webdetr_tools.artifact_compare import float_differences, onnx_differences, package_differences

TINY = "test/fixtures/packages/tiny-oneshot"


def test_float_differences_bounds():
    b = np.array([1.0, -0.5, 1e-9, 0.0], np.float32)
    assert float_differences(np.nextafter(b, np.float32(2)), b, "x") == []  # one ULP up everywhere
    assert float_differences(b + np.float32(5e-7), b, "x") == []  # near zero: within 1e-6 of the largest value
    assert float_differences(b * np.float32(1 + 1e-5), b, "x") != []
    assert float_differences(b[:3], b, "x") != []
    assert float_differences(b.astype(np.float64), b, "x") != []
    nan = b.copy()
    nan[0] = np.nan
    assert float_differences(nan, b, "x") != [] and float_differences(nan, nan, "x") == []
    assert float_differences(np.zeros(3, np.float32), np.zeros(3, np.float32), "x") == []
    assert float_differences(np.full(3, 1e-30, np.float32), np.zeros(3, np.float32), "x") != []  # all-zero: exact


@pytest.fixture()
def package(repo_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(repo_dir / TINY, copy)
    return copy


def rewrite(path, edit):
    model = onnx.load(str(path))
    edit(model)
    onnx.save(model, str(path))


def constant_node(model):
    return next(
        n
        for n in model.graph.node
        if n.op_type == "Constant"
        and numpy_helper.to_array(n.attribute[0].t).dtype == np.float32
        and n.attribute[0].t.dims
    )


def set_constant(model, change):
    attribute = constant_node(model).attribute[0]
    attribute.t.CopyFrom(numpy_helper.from_array(change(numpy_helper.to_array(attribute.t)), attribute.t.name))


def set_initializer(model, change):
    tensor = next(t for t in model.graph.initializer if numpy_helper.to_array(t).dtype == np.float32 and t.dims)
    tensor.CopyFrom(numpy_helper.from_array(change(numpy_helper.to_array(tensor)), tensor.name))


def test_an_ulp_in_a_folded_constant_is_equal(repo_dir, package):
    # What another CPU did to /Constant_23 of patch_queries.onnx (issue: CI red on another machine).
    rewrite(package / "patch_queries.onnx", lambda m: set_constant(m, lambda a: np.nextafter(a, np.float32(9))))
    assert onnx_differences(package / "patch_queries.onnx", repo_dir / TINY / "patch_queries.onnx") == []


@pytest.mark.parametrize(
    "change",
    [
        lambda m: set_constant(m, lambda a: a * np.float32(1.00001)),
        lambda m: set_initializer(m, lambda a: a * np.float32(1.00001)),
        lambda m: set_initializer(m, lambda a: a[..., :1].copy()),
        lambda m: m.graph.node[0].attribute.append(onnx.helper.make_attribute("extra", 1)),
        lambda m: setattr(m.graph.node[-1], "name", "renamed"),
        lambda m: m.graph.node.pop(),
    ],
    ids=["constant 1e-5", "weight 1e-5", "weight shape", "attribute", "node name", "node removed"],
)
def test_a_change_of_meaning_in_a_graph_is_found(repo_dir, package, change):
    rewrite(package / "patch_queries.onnx", change)
    assert onnx_differences(package / "patch_queries.onnx", repo_dir / TINY / "patch_queries.onnx") != []


def test_package_differences(repo_dir, package):
    committed = repo_dir / TINY
    assert package_differences(package, committed) == []
    manifest = json.loads((package / "manifest.json").read_text())
    manifest["input"]["queryPatch"]["zoom"]["side"] = 0.5
    (package / "manifest.json").write_text(json.dumps(manifest))
    assert any("beyond its digests" in p for p in package_differences(package, committed))
    shutil.copy(committed / "manifest.json", package / "manifest.json")
    rewrite(package / "patch_queries.onnx", lambda m: set_constant(m, lambda a: np.nextafter(a, np.float32(9))))
    assert any("digest" in p for p in package_differences(package, committed))  # stale digest, same graph
    shutil.copy(committed / "patch_queries.onnx", package / "patch_queries.onnx")
    (package / "notes.txt").write_text("x")
    assert any("files differ" in p for p in package_differences(package, committed))
