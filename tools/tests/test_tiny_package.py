"""The committed tiny test packages (test/fixtures/packages/tiny, tiny-oneshot) are what their generators in tools/fixtures make."""
import subprocess
import sys


def test_tiny_package_regenerates_byte_identical(repo_dir, tmp_path):
    subprocess.run([sys.executable, str(repo_dir / "tools/fixtures/tiny_package.py"), "--out", str(tmp_path)], check=True,
                   capture_output=True)
    committed = repo_dir / "test/fixtures/packages/tiny"
    names = sorted(p.name for p in committed.iterdir())
    assert names == ["backbone.onnx", "head.onnx", "image_encoder.onnx", "manifest.json", "patch_decoder.onnx"]
    for name in names:
        assert (tmp_path / name).read_bytes() == (committed / name).read_bytes(), name


def test_tiny_oneshot_package_regenerates_byte_identical(repo_dir, tmp_path):
    """test/fixtures/packages/tiny-oneshot (zoomed search in e2e/soak.spec.ts) is what tools/fixtures/tiny_oneshot_package.py makes."""
    subprocess.run([sys.executable, str(repo_dir / "tools/fixtures/tiny_oneshot_package.py"), "--out", str(tmp_path)],
                   check=True, capture_output=True)
    committed = repo_dir / "test/fixtures/packages/tiny-oneshot"
    names = sorted(p.name for p in committed.iterdir())
    assert "manifest.json" in names and "patch_descriptors.onnx" in names
    assert names == sorted(p.name for p in tmp_path.iterdir())
    for name in names:
        assert (tmp_path / name).read_bytes() == (committed / name).read_bytes(), name
