"""The one augmentation contract: p, randomize_parameters then apply, with an explicit generator."""

import numpy as np
import pytest
import torch

from wildtag.augment.base import Transform, check_probability, check_range
from wildtag.augment.spectrogram import SPEC_AUGMENTS, create_spec_augment
from wildtag.augment.waveform import WAVEFORM_AUGMENTS, create_waveform_augment


@pytest.mark.parametrize("name", WAVEFORM_AUGMENTS.list())
def test_a_waveform_call_is_the_decision_then_randomize_then_apply(name):
    augment = create_waveform_augment(name, p=1.0)
    assert isinstance(augment, Transform)
    x = np.random.default_rng(0).standard_normal(8000).astype(np.float32) * 0.1
    called = augment(x, 16000, np.random.default_rng(3))
    rng = np.random.default_rng(3)
    rng.random()  # the decision
    by_hand = augment.apply(x, 16000, augment.randomize_parameters(x, 16000, rng))
    np.testing.assert_array_equal(called, by_hand)


@pytest.mark.parametrize("name", SPEC_AUGMENTS.list())
def test_a_spectrogram_call_is_the_decision_then_randomize_then_apply(name):
    augment = create_spec_augment(name, p=1.0)
    assert isinstance(augment, Transform)
    spec = torch.rand(3, 1, 16, 40, generator=torch.Generator().manual_seed(0))
    called = augment(spec, torch.Generator().manual_seed(7))
    generator = torch.Generator().manual_seed(7)
    torch.rand(3, generator=generator)  # the decisions
    by_hand = augment.apply(spec, augment.randomize_parameters(spec, generator))
    torch.testing.assert_close(called, by_hand)


def test_a_generator_passed_in_wins_over_the_modules_own():
    augment = create_spec_augment("time_jitter", p=1.0, generator=torch.Generator().manual_seed(1))
    spec = torch.rand(16, 1, 4, 50)
    passed = augment(spec, torch.Generator().manual_seed(2))
    assert torch.equal(passed, augment(spec, torch.Generator().manual_seed(2)))
    assert not torch.equal(passed, augment(spec))  # the module's seed-1 generator gives other shifts


def test_the_shared_checks_name_the_setting():
    assert check_probability("p", 0.25) == 0.25
    with pytest.raises(ValueError, match=r"^p must be a probability in \[0, 1\]"):
        check_probability("p", True)
    assert check_range("min_x", 1, "max_x", 2.5) == (1.0, 2.5)
    with pytest.raises(ValueError, match="min_x=3 must not be greater than max_x=2"):
        check_range("min_x", 3, "max_x", 2)
    with pytest.raises(ValueError, match="max_x must be a number"):
        check_range("min_x", 0, "max_x", "2")
