"""The official RT-DETR PyTorch code loaded from a fetched snapshot of lyuwenyu/RT-DETR (a bare git dir), for
parity tests and one-off comparisons only; nothing of it ships. Only the model files are read (git show) into a
temporary package tree whose `core.register` is a no-op, so the training stack (data, optim, yaml config) is not
imported. Tests call `official_or_skip`, which skips when no snapshot is present.
"""
import importlib
import os
import subprocess
import sys
import tempfile
import types
from pathlib import Path

DEFAULT_SNAPSHOT = Path(os.environ.get("WEBDETR_RTDETR_REPO", "/work/.mirror/lyuwenyu+RT-DETR/repo"))

FILES = {
    "v1": (
        "rtdetr_pytorch/src",
        "src",  # v1 imports `from src.core import register`: the package must be called src
        [
            "zoo/rtdetr/utils.py",
            "zoo/rtdetr/box_ops.py",
            "zoo/rtdetr/denoising.py",
            "zoo/rtdetr/hybrid_encoder.py",
            "zoo/rtdetr/rtdetr_decoder.py",
            "nn/backbone/common.py",
            "nn/backbone/presnet.py",
        ],
    ),
    "v2": (
        "rtdetrv2_pytorch/src",
        "rtdetrv2_official_src",
        [
            "zoo/rtdetr/utils.py",
            "zoo/rtdetr/box_ops.py",
            "zoo/rtdetr/denoising.py",
            "zoo/rtdetr/hybrid_encoder.py",
            "zoo/rtdetr/rtdetrv2_decoder.py",
            "nn/backbone/common.py",
            "nn/backbone/presnet.py",
        ],
    ),
}


def _register(*args, **kwargs):
    if len(args) == 1 and isinstance(args[0], type):
        return args[0]
    return lambda cls: cls


def load_official(version, snapshot=DEFAULT_SNAPSHOT):
    """A namespace with PResNet, HybridEncoder, the decoder class and deformable core functions."""
    root, package, files = FILES[version]
    tree = Path(tempfile.mkdtemp(prefix=f"rtdetr-official-{version}-"))
    for rel in files:
        source = subprocess.run(
            ["git", f"--git-dir={snapshot}", "show", f"HEAD:{root}/{rel}"], capture_output=True, check=True
        ).stdout
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_bytes(source)
    for name in list(sys.modules):
        if name == package or name.startswith(package + "."):
            del sys.modules[name]

    def add_package(name, path):
        module = types.ModuleType(name)
        module.__path__ = [str(path)]
        sys.modules[name] = module
        return module

    add_package(package, tree)
    for sub in ["zoo", "zoo/rtdetr", "nn", "nn/backbone"]:
        add_package(f"{package}.{sub.replace('/', '.')}", tree / sub)
    core = add_package(f"{package}.core", tree / "core")
    core.register = _register
    decoder = "rtdetr_decoder" if version == "v1" else "rtdetrv2_decoder"
    ns = types.SimpleNamespace()
    ns.presnet = importlib.import_module(f"{package}.nn.backbone.presnet")
    ns.hybrid_encoder = importlib.import_module(f"{package}.zoo.rtdetr.hybrid_encoder")
    ns.decoder = importlib.import_module(f"{package}.zoo.rtdetr.{decoder}")
    ns.utils = importlib.import_module(f"{package}.zoo.rtdetr.utils")
    return ns


def official_or_skip(version):
    import pytest

    if not DEFAULT_SNAPSHOT.is_dir():
        pytest.skip(f"no lyuwenyu/RT-DETR snapshot at {DEFAULT_SNAPSHOT} (set WEBDETR_RTDETR_REPO)")
    return load_official(version)


def build_official_model(ns, cfg):
    """The official backbone + HybridEncoder + decoder for one of our configs, in eval mode (no eval size: anchors
    and position embeddings are computed per input, what the official code does without eval_spatial_size)."""
    import torch

    backbone = ns.presnet.PResNet(
        depth=cfg["depth"],
        variant="d",
        return_idx=cfg["return_idx"],
        freeze_at=-1,
        freeze_norm=False,
        pretrained=False,
    )
    encoder_args = dict(
        in_channels=cfg["in_channels"],
        feat_strides=cfg["feat_strides"],
        hidden_dim=cfg["hidden"],
        nhead=cfg["enc_heads"],
        dim_feedforward=cfg["enc_ffn"],
        dropout=0.0,
        enc_act=cfg["enc_act"],
        use_encoder_idx=cfg["use_encoder_idx"],
        num_encoder_layers=cfg["enc_layers"],
        expansion=cfg["expansion"],
        depth_mult=cfg["depth_mult"],
        act=cfg["act"],
        eval_spatial_size=None,
    )
    common = dict(
        num_classes=cfg["num_classes"],
        hidden_dim=cfg["hidden"],
        num_queries=cfg["queries"],
        feat_channels=[cfg["hidden"]] * len(cfg["in_channels"]),
        feat_strides=list(cfg["feat_strides"]),
        num_levels=cfg["num_levels"],
        nhead=cfg["dec_heads"],
        dim_feedforward=cfg["dec_ffn"],
        eval_spatial_size=None,
        eval_idx=cfg["eval_idx"],
    )
    if cfg["version"] == "v2":
        encoder_args["version"] = "v2"
        decoder = ns.decoder.RTDETRTransformerv2(
            num_points=cfg["num_points"],
            num_layers=cfg["dec_layers"],
            cross_attn_method=cfg["cross_attn_method"],
            query_select_method=cfg["query_select_method"],
            learn_query_content=cfg["learn_query_content"],
            **common,
        )
    else:
        decoder = ns.decoder.RTDETRTransformer(
            num_decoder_points=cfg["num_points"][0],
            num_decoder_layers=cfg["dec_layers"],
            learnt_init_query=cfg["learn_query_content"],
            **common,
        )

    class Official(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone, self.encoder, self.decoder = (
                backbone,
                ns.hybrid_encoder.HybridEncoder(**encoder_args),
                decoder,
            )

        def forward(self, image):
            out = self.decoder(self.encoder(self.backbone(image)))
            return out["pred_logits"], out["pred_boxes"]

    return Official().eval()
