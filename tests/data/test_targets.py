from __future__ import annotations

import numpy as np
import pytest

from wildtag.data import clip_targets, clip_weights, event_targets
from wildtag.labels import ClassMap, LabelError


def test_clip_targets_birdclef_smoothing(class_map):
    target = clip_targets(["b"], ["c", "b"], class_map, primary_value=0.995, secondary_value=0.3,
                          absent_value=0.0025)  # fmt: skip
    assert target.dtype == np.float32
    np.testing.assert_allclose(target, [0.0025, 0.995, 0.3, 0.0025], rtol=1e-6)


def test_clip_targets_default_multi_hot_and_empty(class_map):
    np.testing.assert_array_equal(clip_targets(["a", "d"], None, class_map), [1, 0, 0, 1])
    np.testing.assert_array_equal(clip_targets([], [], class_map), [0, 0, 0, 0])
    # A bare string is one label, not a sequence of characters; arrays come back from Parquet.
    np.testing.assert_array_equal(clip_targets("c", np.array(["a"]), class_map), [1, 0, 1, 0])


def test_event_targets_tp_one_fp_zero_rest_nan(class_map, make_events):
    events = make_events(
        [("r", 1.0, 2.0, "a", True), ("r", 3.0, 3.5, "b", False), ("r", 9.0, 9.5, "c", True)]
    )
    target, weight = event_targets(0.0, 5.0, events, class_map)
    assert target[0] == 1.0 and target[1] == 0.0
    assert np.isnan(target[2]) and np.isnan(target[3])  # c lies outside the window, d has no event
    np.testing.assert_array_equal(weight, 1.0)
    zero, _ = event_targets(0.0, 5.0, events, class_map, unknown="zero")
    np.testing.assert_array_equal(zero, [1, 0, 0, 0])


def test_event_targets_presence_beats_absence_of_same_class(class_map, make_events):
    events = make_events([("r", 1.0, 2.0, "a", False, 0.5), ("r", 1.5, 2.5, "a", True, 0.8)])
    target, weight = event_targets(0.0, 5.0, events, class_map)
    assert target[0] == 1.0
    assert weight[0] == pytest.approx(0.8)  # the weight of the event that decided the class


def test_event_targets_carry_weights(class_map, make_events):
    events = make_events([("r", 1.0, 2.0, "a", True, 0.1), ("r", 2.0, 3.0, "a", True, 0.4),
                          ("r", 1.0, 2.0, "b", False, 0.25)])  # fmt: skip
    target, weight = event_targets(0.0, 5.0, events, class_map)
    np.testing.assert_allclose(weight, [0.4, 0.25, 1.0, 1.0])
    assert weight.dtype == np.float32 and target.dtype == np.float32


def test_event_targets_min_overlap_uses_shorter_of_event_and_window(class_map, make_events):
    # Event 4..6 s; window 0..5 s covers half of it.
    events = make_events([("r", 4.0, 6.0, "a", True)])
    assert event_targets(0.0, 5.0, events, class_map, min_overlap=0.5)[0][0] == 1.0
    assert np.isnan(event_targets(0.0, 4.9, events, class_map, min_overlap=0.5)[0][0])
    # An event longer than the window: the window's length is the reference.
    long = make_events([("r", 0.0, 60.0, "a", True)])
    assert event_targets(10.0, 15.0, long, class_map, min_overlap=1.0)[0][0] == 1.0
    # Touching is not overlapping, even with min_overlap 0.
    assert np.isnan(event_targets(6.0, 8.0, events, class_map, min_overlap=0.0)[0][0])


def test_event_targets_unknown_label_names_its_row(make_events):
    events = make_events([("r", 1.0, 2.0, "a", True), ("r", 1.0, 2.0, "zebra", True)])
    with pytest.raises(LabelError, match=r"boxes\.csv:3: label 'zebra' is not in the class map"):
        event_targets(0.0, 5.0, events, ClassMap(["a"]))


def test_event_targets_rejects_bad_options(class_map, make_events):
    events = make_events([("r", 1.0, 2.0, "a", True)])
    with pytest.raises(ValueError, match="unknown must be"):
        event_targets(0.0, 5.0, events, class_map, unknown="ignore")
    with pytest.raises(ValueError, match="min_overlap"):
        event_targets(0.0, 5.0, events, class_map, min_overlap=1.5)


def test_clip_weights_keep_labelled_classes_whole_and_weigh_the_rest(class_map):
    weights = clip_weights(["b"], ["d"], class_map, negative_weight=0.1)
    assert weights.dtype == np.float32
    np.testing.assert_allclose(weights, [0.1, 1.0, 0.1, 1.0])
    np.testing.assert_array_equal(clip_weights("a", None, class_map), [1.0, 1.0, 1.0, 1.0])
    with pytest.raises(LabelError, match="'x'"):
        clip_weights(["x"], [], class_map, negative_weight=0.1)
