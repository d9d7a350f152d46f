"""RT-DETR (v1 / v2, lyuwenyu/RT-DETR) for export: our own module tree with the official state-dict names
(model.py), the config read back from a state dict (config.py), and a loader of the official code from a
fetched snapshot for parity tests (official.py; tests skip without it)."""
