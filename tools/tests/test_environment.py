"""The Python tool chain runs on Debian's packages under /usr/bin/python3."""
import torch


def test_torch_runs_on_cpu():
    x = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    assert torch.allclose(x.sum(0), torch.tensor([3.0, 5.0, 7.0]))
