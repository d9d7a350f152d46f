"""The committed tiny test package (test/fixtures/packages/tiny) is what tools/fixtures/tiny_package.py makes."""
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
