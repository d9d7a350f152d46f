"""The committed tiny test packages (test/fixtures/packages/tiny, tiny-oneshot) are what their generators in
tools/fixtures make: the same graphs and manifest, float values within artifact_compare.RTOL (folded constants may
differ by an ULP between CPUs, so digests are not compared across machines;
each manifest's digests must match its own files)."""
import os
import subprocess
import sys

from webdetr_tools.artifact_compare import package_differences


def regenerate(repo_dir, tmp_path, script):
    env = {**os.environ, "PYTHONPATH": str(repo_dir / "tools")}  # as scripts/fixtures.mjs runs them
    subprocess.run(
        [sys.executable, str(repo_dir / "tools/fixtures" / script), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
        env=env,
    )
    return tmp_path


def test_tiny_package_regenerates_equal(repo_dir, tmp_path):
    committed = repo_dir / "test/fixtures/packages/tiny"
    names = sorted(p.name for p in committed.iterdir())
    assert names == ["backbone.onnx", "head.onnx", "image_encoder.onnx", "manifest.json", "patch_decoder.onnx"]
    assert package_differences(regenerate(repo_dir, tmp_path, "tiny_package.py"), committed) == []


def test_tiny_oneshot_package_regenerates_equal(repo_dir, tmp_path):
    """test/fixtures/packages/tiny-oneshot (zoomed search in e2e/soak.spec.ts) is what
    tools/fixtures/tiny_oneshot_package.py makes."""
    committed = repo_dir / "test/fixtures/packages/tiny-oneshot"
    names = sorted(p.name for p in committed.iterdir())
    assert "manifest.json" in names and "patch_descriptors.onnx" in names
    assert package_differences(regenerate(repo_dir, tmp_path, "tiny_oneshot_package.py"), committed) == []
