"""tools/bench/two_stage_topk_sensitivity.py on a tiny two-stage model: zero noise moves nothing, the gaps are
the sorted proposal scores' differences, and the model is left as it was."""
import torch

from test_reference_models import SMALL_CONFIGS
from bench.two_stage_topk_sensitivity import sensitivity
from webdetr_tools.models import build_model
from webdetr_tools.weights import synthetic_state_dict


def test_zero_noise_gives_zero_diff_and_large_noise_moves_the_outputs():
    model = build_model(SMALL_CONFIGS["two-stage"])
    model.load_state_dict(synthetic_state_dict({k: list(v.shape) for k, v in model.state_dict().items()}, seed=3))
    model.eval()
    exact = model.two_stage_queries
    image = torch.randn(1, 3, 64, 96, generator=torch.Generator().manual_seed(0))
    report = sensitivity(model, image, [0.0, 1.0])
    assert report["k"] == 30 and report["tokens"] > report["k"]
    assert report["boundary_gap"] >= 0 and report["smallest_gap_within_top_k"] >= 0
    assert report["noise"][0]["max_abs_diff_logits"] == 0 and report["noise"][0]["max_abs_diff_boxes"] == 0
    assert report["noise"][1]["max_abs_diff_logits"] > 1e-3
    assert model.two_stage_queries == exact  # the hook is removed
