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
