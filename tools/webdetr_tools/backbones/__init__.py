"""Pretrained backbones we can build from registry packages (no weight downloads at run time)."""
