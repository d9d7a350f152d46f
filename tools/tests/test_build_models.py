"""The benchmark-package stamp of tools/build_models.py (webdetr_tools/ship/stamp.py): a cached package is reused only
while the checkpoint, the export options and the exporter's sources are those it was built from."""
from webdetr_tools.ship import stamp as build_stamps


def test_the_stamp_follows_the_checkpoint_the_options_and_the_sources(tmp_path, monkeypatch):
    checkpoint = tmp_path / "oneshot.pt"
    checkpoint.write_bytes(b"weights v1")
    stamp = build_stamps.build_stamp(checkpoint, {"max_patches": 10})
    assert build_stamps.build_stamp(checkpoint, {"max_patches": 10}) == stamp  # deterministic
    assert build_stamps.build_stamp(checkpoint, {"max_patches": 5}) != stamp
    checkpoint.write_bytes(b"weights v2")
    assert build_stamps.build_stamp(checkpoint, {"max_patches": 10})["checkpointSha256"] != stamp["checkpointSha256"]
    # an exporter source edit: a stand-in tools tree with one more module
    tools = tmp_path / "tools"
    (tools / "webdetr_tools").mkdir(parents=True)
    (tools / "webdetr_tools" / "patches.py").write_text("OP = 'GridSample'\n")
    monkeypatch.setattr(build_stamps, "TOOLS", tools)
    (tools / "build_models.py").write_text("")
    before = build_stamps.build_stamp(checkpoint, {})["sourcesSha256"]
    (tools / "webdetr_tools" / "patches.py").write_text("OP = 'MatMul'\n")
    assert build_stamps.build_stamp(checkpoint, {})["sourcesSha256"] != before
