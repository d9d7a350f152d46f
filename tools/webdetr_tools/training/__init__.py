"""Training on cached backbone features: feature cache, detector losses and loop (tools/train.py)."""
