"""The model-package manifest: JSON-schema validation plus the cross-reference rules a schema cannot say.

The same rules are implemented in TypeScript (src/package/manifest.ts); test/fixtures/manifests/ holds the
examples both must accept or reject.
"""
import hashlib
import json
import re
from pathlib import Path

import jsonschema

MANIFEST_FORMAT = "webdetr-model/1"
SCHEMA_PATH = Path(__file__).resolve().parents[3] / "schemas" / "manifest.schema.json"


class ManifestError(ValueError):
    """A manifest that breaks the schema or the cross-reference rules; .violations lists every problem."""

    def __init__(self, violations):
        self.violations = list(violations)
        super().__init__("invalid webdetr manifest:\n  " + "\n  ".join(self.violations))


def load_schema():
    return json.loads(SCHEMA_PATH.read_text())


def _location(error):
    return "/" + "/".join(str(part) for part in error.absolute_path)


def schema_violations(manifest):
    validator = jsonschema.Draft202012Validator(load_schema())
    return [f"{_location(e)}: {e.message}" for e in sorted(validator.iter_errors(manifest), key=str)]


def _dim_symbols(expression):
    """The symbols of a dim expression ("patches*20" -> ["patches"])."""
    return [f.strip() for f in re.split(r"[*+]", expression) if not f.strip().isdigit()]


def reference_violations(manifest):
    """Names used by graphs, stages, pipelines and outputs must exist; stage inputs must be produced first."""
    problems = []
    tensors = manifest["tensors"]
    graphs = {}
    for graph in manifest["graphs"]:
        if graph["name"] in graphs:
            problems.append(f"/graphs: duplicate graph name {graph['name']}")
        graphs[graph["name"]] = graph
        for name in graph["inputs"] + graph["outputs"]:
            if name not in tensors:
                problems.append(f"/graphs/{graph['name']}: tensor {name} is not declared in /tensors")
    for key in ("logits", "boxes"):
        if manifest["output"][key] not in tensors:
            problems.append(f"/output/{key}: tensor {manifest['output'][key]} is not declared in /tensors")
    pipelines = {}
    for pipeline in manifest["pipelines"]:
        where = f"/pipelines/{pipeline['name']}"
        available = set(pipeline["inputs"])
        after = pipeline.get("after")
        if after is not None:
            if after not in pipelines:
                problems.append(f"{where}: after names unknown or later pipeline {after}")
            else:
                available |= pipelines[after]
        # symbols a run can bind: plain-symbol dims of its inputs, of what it may borrow from `after`, and of the
        # outputs of its graph stages once they ran (e.g. "tokens" of a shorter-side package's encoder input)
        bound = _plain_symbols(tensors, available)
        for name in pipeline["inputs"]:
            if name not in tensors:
                problems.append(f"{where}: input {name} is not declared in /tensors")
        for index, stage in enumerate(pipeline["stages"]):
            if stage["kind"] == "graph":
                graph = graphs.get(stage["graph"])
                if graph is None:
                    problems.append(f"{where}/stages/{index}: unknown graph {stage['graph']}")
                elif stage["inputs"] != graph["inputs"] or stage["outputs"] != graph["outputs"]:
                    problems.append(f"{where}/stages/{index}: bindings differ from graph {stage['graph']}")
                reads, writes = stage["inputs"], stage["outputs"]
                bound |= _plain_symbols(tensors, writes)
            else:
                reads = [stage[k] for k in ("value", "referencePoints", "samplingOffsets", "attentionLogits")]
                writes = [stage["output"]]
                rule = stage["levels"]
                if isinstance(rule, dict) and rule["from"] not in available:
                    problems.append(f"{where}/stages/{index}: levels come from {rule['from']}, which is not available")
                if isinstance(stage["queries"], str):
                    unbound = [s for s in _dim_symbols(stage["queries"]) if s not in bound]
                    if unbound:
                        problems.append(
                            f"{where}/stages/{index}: queries {stage['queries']} uses {', '.join(unbound)}, "
                            "which no input of the pipeline binds"
                        )
            for name in reads:
                if name not in available:
                    problems.append(f"{where}/stages/{index}: reads {name} before anything produces it")
            for name in writes:
                if name not in tensors:
                    problems.append(f"{where}/stages/{index}: tensor {name} is not declared in /tensors")
            available |= set(writes)
        for name in pipeline["outputs"]:
            if name not in available:
                problems.append(f"{where}: output {name} is never produced")
        pipelines[pipeline["name"]] = available
    problems += patch_input_violations(manifest)
    problems += size_policy_violations(manifest)
    return problems


def _plain_symbols(tensors, names):
    return {
        d.strip()
        for name in names
        for d in tensors.get(name, {}).get("shape", [])
        if isinstance(d, str) and not re.search(r"[*+]", d)
    }


def size_policy_violations(manifest):
    """shorter-side goes with resize bilinear-keep-aspect and no query patches; fixed with bilinear-stretch."""
    policy, resize = manifest["input"]["sizePolicy"], manifest["input"]["resize"]
    expected = "bilinear-keep-aspect" if policy["kind"] == "shorter-side" else "bilinear-stretch"
    problems = []
    if resize != expected:
        problems.append(f"/input/resize: a {policy['kind']} size policy resizes with {expected}, not {resize}")
    if policy["kind"] == "shorter-side":
        if "queryPatch" in manifest["input"]:
            problems.append("/input/queryPatch: query-patch packages support a fixed size policy only")
        if policy["longest"] < policy["shortest"]:
            problems.append("/input/sizePolicy: longest must be >= shortest")
    return problems


def patch_input_violations(manifest):
    """The patches tensor has the shape input.queryPatch says: [1, K, 3, height, width] crops or [1, K, 4] boxes."""
    spec, tensor = manifest["input"].get("queryPatch"), manifest["tensors"].get("patches")
    if spec is None or tensor is None:
        return []
    shape = tensor["shape"]
    if spec.get("kind", "crop") == "boxes":
        expected, ok = "[1, K, 4] (kind boxes)", len(shape) == 3 and shape[2] == 4
    else:
        expected = f"[1, K, 3, {spec.get('height')}, {spec.get('width')}] (kind crop)"
        ok = len(shape) == 5 and shape[2:] == [3, spec.get("height"), spec.get("width")]
    return [] if ok else [f"/tensors/patches: shape {shape} is not the {expected} that /input/queryPatch declares"]


def validate_manifest(manifest):
    """Raise ManifestError listing every violation; return the manifest when it is valid."""
    problems = schema_violations(manifest)
    if not problems:
        problems = reference_violations(manifest)
    if problems:
        raise ManifestError(problems)
    return manifest


def file_digest(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_package_files(package_dir):
    """Check every graph file's byte size and sha256 against the manifest; return the manifest."""
    package_dir = Path(package_dir)
    manifest = validate_manifest(json.loads((package_dir / "manifest.json").read_text()))
    problems = []
    for graph in manifest["graphs"]:
        path = package_dir / graph["file"]
        if not path.is_file():
            problems.append(f"{graph['file']}: missing")
            continue
        if path.stat().st_size != graph["bytes"]:
            problems.append(f"{graph['file']}: {path.stat().st_size} bytes, manifest says {graph['bytes']}")
        if file_digest(path) != graph["sha256"]:
            problems.append(f"{graph['file']}: sha256 differs from the manifest")
    if problems:
        raise ManifestError(problems)
    return manifest
