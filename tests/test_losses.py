from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from wildtag.losses import LOSSES, create_loss
from wildtag.registry import UnknownNameError

NAN = math.nan


def _softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def _bce(logit: float, target: float) -> float:
    """-(t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))), by hand."""
    return target * _softplus(-logit) + (1 - target) * _softplus(logit)


def _value(loss: torch.Tensor, expected: float) -> None:
    assert loss.ndim == 0
    assert loss.item() == pytest.approx(expected, rel=1e-5, abs=1e-7)


@pytest.mark.parametrize("name", LOSSES.list())
def test_every_loss_gives_a_finite_scalar_with_finite_gradients(name):
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 5, generator=gen, requires_grad=True)
    targets = (torch.rand(6, 5, generator=gen) > 0.6).float()
    targets[:, 0] = 1.0  # every row has a positive (cross_entropy, lsep need one)
    targets[:, 1] = 0.0
    loss = create_loss(name)(logits, targets)
    assert loss.ndim == 0 and torch.isfinite(loss) and loss.item() > 0
    loss.backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0


def test_bce_matches_the_hand_computed_value():
    logits = torch.tensor([[0.0, 2.0], [-1.0, 0.5]])
    targets = torch.tensor([[1.0, 0.0], [0.3, 1.0]])
    expected = (_bce(0, 1) + _bce(2, 0) + _bce(-1, 0.3) + _bce(0.5, 1)) / 4
    _value(create_loss("bce")(logits, targets), expected)


def test_bce_refuses_unknown_targets_pointing_to_masked_bce():
    with pytest.raises(ValueError, match="masked_bce"):
        create_loss("bce")(torch.zeros(1, 2), torch.tensor([[1.0, NAN]]))


def test_masked_bce_averages_over_known_entries_only():
    logits = torch.tensor([[0.0, 2.0, -1.0], [3.0, 0.5, 0.0]])
    targets = torch.tensor([[1.0, NAN, 0.0], [NAN, 1.0, NAN]])
    expected = (_bce(0, 1) + _bce(-1, 0) + _bce(0.5, 1)) / 3
    _value(create_loss("masked_bce")(logits, targets), expected)


def test_nan_masking_leaves_known_entries_alone_and_gives_no_nan_gradient():
    logits = torch.tensor([[0.3, -2.0, 1.5, 0.1]], requires_grad=True)
    targets = torch.tensor([[1.0, NAN, 0.0, NAN]])
    create_loss("masked_bce")(logits, targets).backward()
    known = torch.tensor([[0.3, 1.5]], requires_grad=True)
    create_loss("bce")(known, torch.tensor([[1.0, 0.0]])).backward()
    assert torch.isfinite(logits.grad).all()
    assert torch.equal(logits.grad[0, [1, 3]], torch.zeros(2))
    torch.testing.assert_close(logits.grad[0, [0, 2]], known.grad[0])


@pytest.mark.parametrize("name", ["masked_bce", "masked_focal", "bce_smooth", "cross_entropy", "lsep"])
def test_a_batch_with_nothing_known_gives_zero_and_keeps_the_graph(name):
    logits = torch.randn(2, 3, requires_grad=True)
    loss = create_loss(name)(logits, torch.full((2, 3), NAN))
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert torch.equal(logits.grad, torch.zeros(2, 3))


@pytest.mark.parametrize("name", ["bce", "masked_bce", "masked_focal", "bce_smooth", "cross_entropy", "lsep"])
def test_per_example_weights_scale_the_loss(name):
    logits = torch.tensor([[0.5, -1.0, 2.0], [1.0, 0.0, -0.5]])
    targets = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    loss = create_loss(name)
    plain = loss(logits, targets)
    torch.testing.assert_close(loss(logits, targets, torch.full((2,), 3.0)), 3 * plain)
    only_first = loss(logits, targets, torch.tensor([1.0, 0.0]))
    torch.testing.assert_close(only_first, loss(logits[:1], targets[:1]) / 2)


def test_entry_weights_multiply_per_entry_losses():
    logits = torch.tensor([[0.0, 2.0]])
    targets = torch.tensor([[1.0, 0.0]])
    weights = torch.tensor([[1.0, 0.1]])  # a weak negative
    _value(create_loss("masked_bce")(logits, targets, weights), (_bce(0, 1) + 0.1 * _bce(2, 0)) / 2)


def test_pos_weight_multiplies_the_positive_term():
    logits = torch.tensor([[0.5, -1.0]])
    targets = torch.tensor([[1.0, 0.0]])
    expected = (4.0 * _softplus(-0.5) + _softplus(-1.0)) / 2
    _value(create_loss("bce", pos_weight=4.0)(logits, targets), expected)
    _value(create_loss("masked_bce", pos_weight=[4.0, 2.0])(logits, targets), expected)


def test_focal_matches_the_hand_computed_value():
    # logit 0, target 1: p_t = 0.5, (1 - p_t)^2 = 0.25; logit 2, target 0: p_t = 1 - sigmoid(2).
    s2 = 1 / (1 + math.exp(-2))
    logits = torch.tensor([[0.0, 2.0, 1.0]])
    targets = torch.tensor([[1.0, 0.0, NAN]])
    expected = (0.25 * _bce(0, 1) + s2**2 * _bce(2, 0)) / 2
    _value(create_loss("masked_focal", gamma=2.0)(logits, targets), expected)
    with_alpha = (0.25 * 0.25 * _bce(0, 1) + 0.75 * s2**2 * _bce(2, 0)) / 2
    _value(create_loss("masked_focal", gamma=2.0, alpha=0.25)(logits, targets), with_alpha)


def test_focal_with_gamma_zero_is_masked_bce():
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(4, 6, generator=gen)
    targets = torch.rand(4, 6, generator=gen).round()
    targets[torch.rand(4, 6, generator=gen) < 0.3] = NAN
    torch.testing.assert_close(
        create_loss("masked_focal", gamma=0.0)(logits, targets), create_loss("masked_bce")(logits, targets)
    )


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_with_one_hot_targets_is_torch_cross_entropy(smoothing):
    gen = torch.Generator().manual_seed(2)
    logits = torch.randn(5, 7, generator=gen)
    index = torch.tensor([0, 3, 6, 2, 3])
    ours = create_loss("cross_entropy", label_smoothing=smoothing)(logits, F.one_hot(index, 7).float())
    torch.testing.assert_close(ours, F.cross_entropy(logits, index, label_smoothing=smoothing))


def test_cross_entropy_normalises_multi_hot_rows_and_skips_empty_ones():
    logits = torch.tensor([[1.0, 0.0, -1.0], [5.0, 5.0, 5.0]])
    targets = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, NAN]])
    log_z = math.log(math.e + 1 + math.exp(-1))
    expected = -(0.5 * (1 - log_z) + 0.5 * (0 - log_z))  # only the first row has a target
    _value(create_loss("cross_entropy")(logits, targets), expected)


def test_bce_smooth_moves_known_targets_towards_one_half():
    logits = torch.tensor([[1.0, -2.0, 0.0]])
    targets = torch.tensor([[1.0, 0.0, NAN]])
    expected = (_bce(1, 0.95) + _bce(-2, 0.05)) / 2
    _value(create_loss("bce_smooth", label_smoothing=0.1)(logits, targets), expected)


def test_lsep_matches_the_hand_computed_value():
    logits = torch.tensor([[1.0, 0.0, 2.0, 3.0]])
    targets = torch.tensor([[1.0, 0.0, 1.0, NAN]])  # positives 0 and 2, negative 1, class 3 unknown
    expected = math.log(1 + math.exp(0 - 1) + math.exp(0 - 2))
    _value(create_loss("lsep")(logits, targets), expected)


def test_shape_mismatches_raise_with_the_shapes():
    loss = create_loss("masked_bce")
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(2, 4\)"):
        loss(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"weights shaped \(2, 3\) or \(2,\), got \(3,\)"):
        loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.ones(3))


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("masked_focal", {"gamma": -1.0}, "gamma"),
        ("masked_focal", {"alpha": 1.5}, "alpha"),
        ("cross_entropy", {"label_smoothing": 1.0}, "label_smoothing"),
        ("bce", {"pos_weight": 0.0}, "pos_weight"),
    ],
)
def test_bad_loss_settings_raise_naming_them(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        create_loss(name, **kwargs)


def test_unknown_loss_suggests_close_names():
    with pytest.raises(UnknownNameError, match="masked_bce"):
        create_loss("maskedbce")
