from __future__ import annotations

import math

import pytest
import torch

from wildtag.augment.mixing import (
    MixOver,
    MixPlan,
    Mixup,
    OrMixup,
    balance_weights,
    create_mixer,
    list_mixers,
)
from wildtag.registry import UnknownNameError

NAN = math.nan

# One column per case of the union table: (t1, w1, t2, w2) -> (target, weight).
UNION_CASES = [
    ((1.0, 0.5), (NAN, 1.0), (1.0, 0.5)),  # 1 + NaN = 1, the positive source's weight
    ((NAN, 1.0), (1.0, 0.4), (1.0, 0.4)),  # NaN + 1 = 1
    ((0.0, 1.0), (NAN, 1.0), (NAN, 1.0)),  # 0 + NaN = NaN
    ((NAN, 0.2), (0.0, 1.0), (NAN, 0.6)),  # NaN + 0 = NaN (weight: the mean, irrelevant)
    ((0.0, 1.0), (0.0, 0.1), (0.0, 0.1)),  # 0 + 0 = 0, as sure as the weaker negative
    ((1.0, 0.3), (0.0, 1.0), (1.0, 0.3)),  # 1 + 0 = 1
    ((0.0, 1.0), (1.0, 0.7), (1.0, 0.7)),  # 0 + 1 = 1
    ((1.0, 0.3), (1.0, 0.6), (1.0, 0.6)),  # 1 + 1 = 1
    ((NAN, 1.0), (NAN, 1.0), (NAN, 1.0)),  # NaN + NaN = NaN
    ((0.9, 1.0), (NAN, 1.0), (0.9, 1.0)),  # a soft positive decides like a 1
    ((0.1, 1.0), (NAN, 1.0), (NAN, 1.0)),  # a soft negative (weak label) does not
    ((0.1, 1.0), (0.2, 1.0), (0.2, 1.0)),  # two soft negatives: the max
]


def _union_batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Two items whose K columns hold the cases above; the expected mixed target and weight (K,)."""
    target = torch.tensor([[c[0][0] for c in UNION_CASES], [c[1][0] for c in UNION_CASES]])
    weight = torch.tensor([[c[0][1] for c in UNION_CASES], [c[1][1] for c in UNION_CASES]])
    expected_target = torch.tensor([c[2][0] for c in UNION_CASES])
    expected_weight = torch.tensor([c[2][1] for c in UNION_CASES])
    return target, weight, expected_target, expected_weight


def _batch(batch: int = 8, classes: int = 3, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    spec = torch.randn(batch, 2, 6, 10, generator=g)
    target = (torch.rand(batch, classes, generator=g) < 0.3).float()
    target[torch.rand(batch, classes, generator=g) < 0.3] = NAN
    return spec, target, torch.ones(batch, classes)


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return torch.equal(a.isnan(), b.isnan()) and torch.allclose(a.nan_to_num(-7.0), b.nan_to_num(-7.0))


def test_registry():
    assert list_mixers() == ["mixover", "mixup", "or_mixup"]
    assert isinstance(create_mixer("or_mixup", p=1.0), OrMixup)
    with pytest.raises(UnknownNameError, match="mixup"):
        create_mixer("mix_up")


def test_mixover_label_algebra_case_by_case():
    target, weight, expected_target, expected_weight = _union_batch()
    spec = torch.randn(2, 1, 4, 4)
    for seed in range(5):  # a batch of two has one pair: every output mixes items 0 and 1
        mixed = MixOver().mix(spec, target, weight, generator=torch.Generator().manual_seed(seed))
        assert all(
            {int(a), int(b)} == {0, 1} for a, b in zip(mixed.plan.first, mixed.plan.second, strict=True)
        )
        for row_target, row_weight in zip(mixed.target, mixed.weight, strict=True):
            assert _same(row_target, expected_target)
            known = ~expected_target.isnan()
            assert torch.allclose(row_weight[known], expected_weight[known])


def test_or_mixup_uses_the_same_union():
    target, weight, expected_target, expected_weight = _union_batch()
    plan = MixPlan(torch.tensor([0, 1]), torch.tensor([1, 0]), torch.tensor([0.02, 0.9]))
    mixed = OrMixup().apply_plan(plan, torch.randn(2, 1, 4, 4), target, weight)
    for row_target, row_weight in zip(mixed.target, mixed.weight, strict=True):
        assert _same(row_target, expected_target)
        assert torch.allclose(row_weight[~expected_target.isnan()], expected_weight[~expected_target.isnan()])


def test_mixup_lerps_targets_and_weights():
    target = torch.tensor([[1.0, 1.0, NAN, 0.0, NAN], [0.0, NAN, 1.0, 0.0, 0.5]])
    weight = torch.tensor([[1.0, 1.0, 1.0, 0.2, 1.0], [0.5, 1.0, 1.0, 1.0, 1.0]])
    plan = MixPlan(torch.tensor([0, 1, 0]), torch.tensor([1, 0, 0]), torch.tensor([0.3, 1.0, 0.6]))
    mixed = Mixup().apply_plan(plan, torch.randn(2, 1, 3, 3), target, weight)
    # item 0: 0.3 * row0 + 0.7 * row1; a NaN with a non-zero share makes the blend unknown
    assert _same(mixed.target[0], torch.tensor([0.3, NAN, NAN, 0.0, NAN]))
    assert torch.allclose(mixed.weight[0], torch.tensor([0.65, 1.0, 1.0, 0.76, 1.0]))
    # item 1: all of row1, the partner's NaN has share 0 and drops out
    assert _same(mixed.target[1], target[1])
    # item 2: mixed with itself, unchanged
    assert _same(mixed.target[2], target[0]) and torch.allclose(mixed.weight[2], weight[0])


@pytest.mark.parametrize("mixer", [Mixup(p=1.0), OrMixup(p=1.0), MixOver()], ids=repr)
def test_mixed_spec_is_the_lerp_of_its_sources(mixer):
    spec, target, weight = _batch()
    mixed = mixer.mix(spec, target, weight, generator=torch.Generator().manual_seed(0))
    plan = mixed.plan
    assert mixed.spec.shape == spec.shape and mixed.target.shape == target.shape == mixed.weight.shape
    for n in range(spec.shape[0]):
        lam = plan.lam[n]
        expected = lam * spec[plan.first[n]] + (1 - lam) * spec[plan.second[n]]
        assert torch.allclose(mixed.spec[n], expected, atol=1e-6)
        expected_target = mixer.combine_targets(
            target[plan.first[n]][None], target[plan.second[n]][None], lam[None]
        )
        assert _same(mixed.target[n], expected_target[0])
    assert (plan.first != plan.second).float().mean() > 0.5


def test_mixover_pairs_distinct_items_with_clipped_lambda():
    spec, target, weight = _batch(batch=16)
    plan = MixOver(alpha=0.5).mix(spec, target, weight, generator=torch.Generator().manual_seed(0)).plan
    assert (plan.first != plan.second).all()
    assert plan.lam.min() >= 0.2 and plan.lam.max() <= 0.8
    assert (plan.lam == 0.2).any() or (plan.lam == 0.8).any()  # Beta(0.5, 0.5) often lands outside


@pytest.mark.parametrize("mixer", [Mixup(p=0.0), OrMixup(p=0.0)], ids=repr)
def test_p_zero_leaves_the_batch_unchanged(mixer):
    spec, target, weight = _batch()
    out_spec, out_target, out_weight = mixer(spec, target, weight, generator=torch.Generator())
    assert torch.equal(out_spec, spec) and _same(out_target, target) and torch.equal(out_weight, weight)


def test_p_mixes_about_that_share_of_items():
    spec, target, weight = _batch(batch=1000)
    plan = Mixup(p=0.3).mix(spec, target, weight, generator=torch.Generator().manual_seed(0)).plan
    unmixed = (plan.lam == 1.0) & (plan.first == plan.second)
    assert abs(unmixed.float().mean().item() - 0.7) < 0.05


@pytest.mark.parametrize("name", ["mixup", "or_mixup", "mixover"])
def test_generator_reproduces_a_batch(name):
    spec, target, weight = _batch()
    mixer = create_mixer(name)
    first, again, other = (
        mixer(spec, target, weight, generator=torch.Generator().manual_seed(s)) for s in (1, 1, 2)
    )
    for a, b in zip(first, again, strict=True):
        assert _same(a, b)
    assert not torch.equal(first[0], other[0])


@pytest.mark.parametrize("name", ["mixup", "or_mixup", "mixover"])
def test_gradients_flow_and_dtype_is_kept(name):
    spec, target, weight = _batch()
    spec.requires_grad_(True)
    out_spec, _, _ = create_mixer(name)(spec, target, weight, generator=torch.Generator())
    (out_spec * torch.arange(out_spec.numel()).view_as(out_spec)).sum().backward()
    assert spec.grad is not None and torch.isfinite(spec.grad).all() and spec.grad.abs().sum() > 0
    half, _, _ = create_mixer(name)(spec.detach().bfloat16(), target, weight)
    assert half.dtype == torch.bfloat16


def _positive_share(mixer, target: torch.Tensor, column: int, draws: int = 300) -> float:
    spec = torch.zeros(target.shape[0], 1, 2, 2)
    g = torch.Generator().manual_seed(0)
    positives = known = 0
    for _ in range(draws):
        _, mixed, _ = mixer(spec, target, torch.ones_like(target), generator=g)
        values = mixed[:, column]
        positives += int((values == 1).sum())
        known += int((~values.isnan()).sum())
    return positives / known


def test_mixover_balances_a_rare_positive():
    target = torch.zeros(8, 2)
    target[0, 0] = 1.0  # class A: one positive, seven negatives
    target[:, 1] = NAN  # class B: unknown everywhere
    balanced = _positive_share(MixOver(balance=True), target, 0)
    plain = _positive_share(MixOver(balance=False), target, 0)
    assert abs(plain - 7 / 28) < 0.04  # uniform over pairs: 7 of 28 pairs hold the positive
    assert abs(balanced - 0.5) < 0.04
    assert abs(balanced - 0.5) < abs(plain - 0.5) / 4


def test_mixover_balances_tp_fp_boxes_per_class():
    # RFCx-like items know one class each: TP_A, 3 x FP_A, TP_B, 3 x FP_B.
    target = torch.full((8, 2), NAN)
    target[0, 0], target[1:4, 0], target[4, 1], target[5:8, 1] = 1.0, 0.0, 1.0, 0.0
    for column in (0, 1):
        balanced = _positive_share(MixOver(balance=True), target, column)
        plain = _positive_share(MixOver(balance=False), target, column)
        assert abs(plain - 0.7) < 0.05  # 7 positive and 3 negative pairs per class
        assert abs(balanced - 0.5) < 0.07
        assert abs(balanced - 0.5) < abs(plain - 0.5) / 2


def test_balance_weights_share_each_cell_equally():
    candidates = torch.tensor([[1.0, NAN], [0.0, NAN], [0.0, NAN], [NAN, NAN], [NAN, 0.0]])
    weights = balance_weights(candidates)
    assert torch.allclose(weights, torch.tensor([1.0, 0.5, 0.5, 0.0, 1.0], dtype=torch.float64))
    assert torch.equal(balance_weights(torch.full((3, 2), NAN)), torch.ones(3, dtype=torch.float64))


def test_mixover_of_one_item_is_unchanged():
    spec, target, weight = _batch(batch=1)
    out_spec, out_target, _ = MixOver()(spec, target, weight)
    assert torch.equal(out_spec, spec) and _same(out_target, target)


def test_per_example_weights_are_broadcast():
    spec, target, _ = _batch()
    _, _, weight = Mixup()(spec, target, torch.full((8,), 0.5), generator=torch.Generator())
    assert weight.shape == target.shape and torch.allclose(weight, torch.full_like(weight, 0.5))


def test_invalid_input_is_rejected():
    spec, target, weight = _batch()
    with pytest.raises(ValueError, match=r"weight shaped \(8, 3\) or \(8,\), got \(8, 2\)"):
        Mixup()(spec, target, weight[:, :2])
    with pytest.raises(ValueError, match="same B"):
        Mixup()(spec, target[:4], weight[:4])
    with pytest.raises(ValueError, match="alpha"):
        MixOver(alpha=0.0)
    with pytest.raises(ValueError, match="min_lambda <= max_lambda"):
        MixOver(min_lambda=0.7, max_lambda=0.3)
    with pytest.raises(ValueError, match="p must be in"):
        OrMixup(p=2.0)
