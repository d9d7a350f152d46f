"""Benchmark helpers (run from tools/: python3 -m bench.<script>, or with PYTHONPATH=tools)."""
