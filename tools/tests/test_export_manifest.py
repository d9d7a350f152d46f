"""Manifest schema + cross-reference validation on the example manifests shared with the TypeScript test."""
import json

import pytest

from webdetr_tools.export.manifest import ManifestError, validate_manifest

FIXTURES = "test/fixtures/manifests"


def _examples(repo_dir, kind):
    return sorted((repo_dir / FIXTURES / kind).glob("*.json"))


def test_fixture_sets_exist(repo_dir):
    assert len(_examples(repo_dir, "valid")) >= 2
    assert len(_examples(repo_dir, "invalid")) >= 10


def test_valid_examples_pass(repo_dir):
    for path in _examples(repo_dir, "valid"):
        validate_manifest(json.loads(path.read_text()))


def test_invalid_examples_fail_with_named_violations(repo_dir):
    for path in _examples(repo_dir, "invalid"):
        with pytest.raises(ManifestError) as caught:
            validate_manifest(json.loads(path.read_text()))
        assert caught.value.violations, path.name
        assert all(isinstance(v, str) and v.startswith("/") for v in caught.value.violations), caught.value.violations


def test_kernel_queries_is_a_count_or_an_expression_over_bound_symbols(repo_dir):
    root = repo_dir / "test" / "fixtures" / "manifests"
    dynamic = validate_manifest(json.loads((root / "valid" / "oneshot-dynamic-queries.json").read_text()))
    assert dynamic["pipelines"][1]["stages"][1]["queries"] == "patches*3"

    def violations(name):
        with pytest.raises(ManifestError) as caught:
            validate_manifest(json.loads((root / "invalid" / name).read_text()))
        return caught.value.violations

    assert any(v.startswith("/pipelines/1/stages/1") for v in violations("queries-bad-expression.json"))
    assert any(v.startswith("/pipelines/1/stages/1") for v in violations("queries-zero.json"))
    assert any(v.startswith("/tensors/pred_boxes/shape/1") for v in violations("shape-bad-expression.json"))
    assert violations("queries-unbound-symbol.json") == [
        "/pipelines/patches/stages/1: queries slots*3 uses slots, which no input of the pipeline binds"
    ]
