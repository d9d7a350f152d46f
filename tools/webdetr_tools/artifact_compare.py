"""Compare a regenerated numeric artefact (ONNX graph, float32 fixture, package directory) with its committed copy.

Float results of the same seeded computation may differ by an ULP or two between processors (vectorised loops sum
in another order; the ONNX exporter folds constants on the CPU it runs on), so byte identity holds only on the
machine that wrote the files. These checks hold on any CPU yet still fail when the generator changes meaning:
structure is compared exactly (graph nodes, attributes, names, shapes, data types, manifest fields, integer and
8-bit data), float values within `RTOL` of the value, or of the tensor's largest magnitude for values near zero
(so a changed seed, weight, scale or formula fails: those move values by far more than 1e-6). Digests are not
compared across machines; each manifest's digests must match its own files.
"""
from __future__ import annotations

import copy
import difflib
import hashlib
import json
from pathlib import Path

import numpy as np

RTOL = 1e-6


def float_differences(generated: np.ndarray, committed: np.ndarray, what: str, rtol: float = RTOL) -> list[str]:
    """Empty when the arrays have one shape and every value is within rtol of the committed value, or within
    rtol of the committed array's largest magnitude (NaNs must sit at the same places)."""
    if generated.shape != committed.shape or generated.dtype != committed.dtype:
        return [
            f"{what}: {generated.dtype}{list(generated.shape)} vs committed {committed.dtype}{list(committed.shape)}"
        ]
    a = generated.astype(np.float64)
    b = committed.astype(np.float64)
    if not np.array_equal(np.isnan(a), np.isnan(b)):
        return [f"{what}: NaNs at other places"]
    a, b = np.nan_to_num(a), np.nan_to_num(b)
    scale = float(np.abs(b).max()) if b.size else 0.0
    bound = rtol * np.maximum(np.abs(b), scale)
    excess = np.abs(a - b) - bound
    if b.size and excess.max() > 0:
        i = int(np.argmax(excess))
        return [
            f"{what}: {int((excess > 0).sum())} of {b.size} values off by more than {rtol:g} relative "
            f"(worst at flat index {i}: {a.flat[i]!r} vs committed {b.flat[i]!r})"
        ]
    return []


def _float_tensors(graph, where: str = ""):
    """(place, TensorProto) for every tensor-valued initializer and node attribute, subgraphs included."""
    from onnx import AttributeProto

    for tensor in graph.initializer:
        yield f"{where}initializer {tensor.name}", tensor
    for node in graph.node:
        for attribute in node.attribute:
            place = f"{where}node {node.name or node.op_type} attribute {attribute.name}"
            if attribute.type == AttributeProto.TENSOR:
                yield place, attribute.t
            elif attribute.type == AttributeProto.TENSORS:
                for i, tensor in enumerate(attribute.tensors):
                    yield f"{place}[{i}]", tensor
            elif attribute.type == AttributeProto.GRAPH:
                yield from _float_tensors(attribute.g, f"{place} / ")
            elif attribute.type == AttributeProto.GRAPHS:
                for i, subgraph in enumerate(attribute.graphs):
                    yield from _float_tensors(subgraph, f"{place}[{i}] / ")


_DATA_FIELDS = ("raw_data", "float_data", "double_data", "int32_data", "int64_data", "uint64_data")


def onnx_differences(generated: Path, committed: Path, rtol: float = RTOL) -> list[str]:
    """Empty when two ONNX files are the same model: every field of the protobuf equal, except that the values of
    floating-point tensors (initializers, Constant values) need only agree within rtol."""
    import onnx
    from onnx import numpy_helper

    models = [onnx.load(str(path), load_external_data=False) for path in (generated, committed)]
    stripped = [copy.deepcopy(m) for m in models]
    problems: list[str] = []
    pairs = [list(_float_tensors(m.graph)) for m in stripped]
    if [p for p, _ in pairs[0]] != [p for p, _ in pairs[1]]:
        problems.append("the tensor-valued initializers or attributes differ")
    else:
        for (place, a), (_, b) in zip(*pairs):
            array_a, array_b = numpy_helper.to_array(a), numpy_helper.to_array(b)
            if array_a.dtype.kind == "f" and array_b.dtype.kind == "f":
                problems += float_differences(array_a, array_b, place, rtol)
                for tensor in (a, b):  # the rest of the proto (name, dims, data type) is compared exactly below
                    for field in _DATA_FIELDS:
                        tensor.ClearField(field)
    texts = [str(m) for m in stripped]
    if texts[0] != texts[1]:
        diff = difflib.unified_diff(
            texts[1].splitlines(), texts[0].splitlines(), "committed", "generated", n=1, lineterm=""
        )
        problems.append("graph structure differs:\n" + "\n".join(list(diff)[:40]))
    return problems


def _without_digests(value):
    if isinstance(value, dict):
        return {k: _without_digests(v) for k, v in value.items() if k != "sha256"}
    if isinstance(value, list):
        return [_without_digests(v) for v in value]
    return value


def manifest_digest_problems(directory: Path) -> list[str]:
    """Each graph's sha256 and byte count in a package's manifest.json must be those of the file beside it."""
    manifest = json.loads((directory / "manifest.json").read_text())
    problems = []
    for graph in manifest["graphs"]:
        data = (directory / graph["file"]).read_bytes()
        if hashlib.sha256(data).hexdigest() != graph["sha256"] or len(data) != graph["bytes"]:
            problems.append(f"{directory.name}/manifest.json: the digest or size of {graph['file']} is not its file's")
    return problems


def package_differences(generated: Path, committed: Path, rtol: float = RTOL) -> list[str]:
    """Empty when a regenerated package directory equals the committed one: the same file names, equal ONNX graphs
    (onnx_differences), the same manifest apart from digests (each manifest's digests match its own files), and
    every other file byte for byte."""
    names = sorted(p.name for p in committed.iterdir())
    generated_names = sorted(p.name for p in generated.iterdir())
    if names != generated_names:
        return [f"files differ: generated {generated_names}, committed {names}"]
    problems = manifest_digest_problems(generated) + manifest_digest_problems(committed)
    for name in names:
        a, b = generated / name, committed / name
        if name.endswith(".onnx"):
            problems += [f"{name}: {p}" for p in onnx_differences(a, b, rtol)]
        elif name == "manifest.json":
            if _without_digests(json.loads(a.read_text())) != _without_digests(json.loads(b.read_text())):
                problems.append("manifest.json differs beyond its digests")
        elif a.read_bytes() != b.read_bytes():
            problems.append(f"{name} differs")
    return problems
