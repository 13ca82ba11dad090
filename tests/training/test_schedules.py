import pytest
import torch

from wildtag.config import OptimizerConfig, ScheduleConfig
from wildtag.training.schedules import cosine_with_warmup, create_optimizer, create_scheduler


def lrs(schedule: ScheduleConfig, total: int, per_epoch: int, lr: float = 1.0) -> list[float]:
    params = [torch.nn.Parameter(torch.zeros(1))]
    optimizer = create_optimizer(params, OptimizerConfig(lr=lr, weight_decay=0.0))
    scheduler = create_scheduler(optimizer, schedule, lr, total, per_epoch)
    seen = []
    for _ in range(total):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
    return seen


def test_cosine_warms_up_linearly_then_decays_to_the_floor():
    seen = lrs(ScheduleConfig(name="cosine", warmup_epochs=2, min_lr_ratio=0.1), total=100, per_epoch=10)
    assert seen[:3] == pytest.approx([0.05, 0.10, 0.15])
    assert seen[19] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(seen[20:], seen[21:], strict=False))
    assert seen[-1] == pytest.approx(0.1, abs=2e-3)


def test_cosine_multiplier_formula():
    assert cosine_with_warmup(0, 100, 0, 0.0) == pytest.approx(1.0)
    assert cosine_with_warmup(50, 100, 0, 0.0) == pytest.approx(0.5)
    assert cosine_with_warmup(100, 100, 0, 0.2) == pytest.approx(0.2)


def test_onecycle_starts_low_peaks_and_ends_low():
    seen = lrs(ScheduleConfig(name="onecycle", pct_start=0.25, div_factor=10, final_div_factor=10), 40, 4, lr=1e-3)
    assert seen[0] == pytest.approx(1e-4)
    assert max(seen) == pytest.approx(1e-3, rel=1e-3) and seen.index(max(seen)) in (9, 10)
    assert seen[-1] < 2e-5


def test_constant_has_no_scheduler():
    assert lrs(ScheduleConfig(name="constant"), 5, 5, lr=0.3) == [0.3] * 5
