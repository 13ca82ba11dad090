from __future__ import annotations

import numpy as np
import pytest

from wildtag.audio import Recording, RecordingSet
from wildtag.data import EventWindowSampler, WindowItem, create_sampler
from wildtag.labels.errors import LabelError

RECORDINGS = RecordingSet(
    Recording(rid, f"/audio/{rid}.wav", 32000, 1, duration_s) for rid, duration_s in {"long": 60.0, "short": 3.0}.items()
)


@pytest.fixture
def events(make_events):
    return make_events([
        ("long", 0.2, 1.0, "a", True),       # at the start
        ("long", 58.5, 59.9, "b", True),     # at the end
        ("long", 20.0, 40.0, "c", True),     # longer than the window
        ("long", 30.0, 31.0, "d", False),    # an absent box
        ("short", 1.0, 2.0, "a", True),      # in a recording shorter than the window
    ])  # fmt: skip


def test_windows_contain_their_event_and_stay_inside_the_recording(events, class_map):
    sampler = EventWindowSampler(events, RECORDINGS, class_map, window_s=5.0)
    assert len(sampler) == 5
    rng = np.random.default_rng(1)
    for draw in range(200):
        index = draw % len(sampler)
        item = sampler.item(index, rng)
        event = events.iloc[index]
        assert item.recording_id == event.recording_id
        assert item.t1_s - item.t0_s == pytest.approx(5.0)
        if event.recording_id == "short":
            assert item.t0_s == 0.0  # too short to keep the window inside: start, zero-padded later
        else:
            assert 0.0 <= item.t0_s and item.t1_s <= 60.0 + 1e-9
        if event.t1_s - event.t0_s <= 5.0:
            assert item.t0_s <= event.t0_s and event.t1_s <= item.t1_s
        else:
            assert event.t0_s <= item.t0_s and item.t1_s <= event.t1_s


def test_offsets_are_random_and_follow_the_generator(events, class_map):
    sampler = EventWindowSampler(events, RECORDINGS, class_map, window_s=5.0)
    starts = [sampler.item(2, np.random.default_rng(seed)).t0_s for seed in range(50)]
    assert len(set(starts)) == 50
    assert min(starts) < 22.0 and max(starts) > 33.0  # spread over the 20..35 s of possible starts
    again = sampler.item(2, np.random.default_rng(7))
    assert again.t0_s == sampler.item(2, np.random.default_rng(7)).t0_s


def test_targets_tp_fp_and_unknown(events, class_map):
    sampler = EventWindowSampler(events, RECORDINGS, class_map, window_s=5.0)
    zero = EventWindowSampler(events, RECORDINGS, class_map, window_s=5.0, unknown="zero")
    for seed in range(20):
        # The absent box d at 30..31 s: its windows lie inside c's 20..40 s.
        item = sampler.item(3, np.random.default_rng(seed))
        assert item.target[3] == 0.0 and item.target[2] == 1.0
        assert np.isnan(item.target[0]) and np.isnan(item.target[1])
        np.testing.assert_array_equal(zero.item(3, np.random.default_rng(seed)).target, [0, 0, 1, 0])


def test_tp_and_fp_of_one_class_overlapping_give_one(make_events, class_map):
    events = make_events([("long", 10.0, 11.0, "a", False), ("long", 10.2, 11.2, "a", True)])
    sampler = EventWindowSampler(events, RECORDINGS, class_map, window_s=5.0)
    for index in range(2):
        assert sampler.item(index, np.random.default_rng(index)).target[0] == 1.0


def test_weights_are_carried_per_class(make_events, class_map):
    events = make_events([("long", 10.0, 11.0, "a", True, 0.1), ("long", 10.5, 11.5, "b", False, 0.3)])
    item = EventWindowSampler(events, RECORDINGS, class_map, window_s=5.0).item(0, np.random.default_rng(0))
    np.testing.assert_allclose(item.weight, [0.1, 0.3, 1.0, 1.0])


def test_include_absent_and_samples_per_epoch(events, class_map):
    only_present = EventWindowSampler(events, RECORDINGS, class_map, window_s=5.0, include_absent=False)
    assert only_present.num_events == 4 and len(only_present) == 4
    longer = EventWindowSampler(events, RECORDINGS, class_map, window_s=5.0, samples_per_epoch=12)
    assert len(longer) == 12
    # Item 7 is event 7 % 5 = 2, the long event c.
    item = longer.item(7, np.random.default_rng(0))
    assert item.target[2] == 1.0 and 20.0 <= item.t0_s and item.t1_s <= 40.0
    with pytest.raises(IndexError):
        longer.item(12, np.random.default_rng(0))


def test_registry_builds_it_and_items_are_window_items(events, class_map):
    sampler = create_sampler("event_window", events=events, recordings=RECORDINGS, class_map=class_map,
                             window_s=2.0)  # fmt: skip
    assert isinstance(sampler, EventWindowSampler)
    assert isinstance(sampler.item(0, np.random.default_rng(0)), WindowItem)
    with pytest.raises(KeyError, match="event_window"):
        create_sampler("event_windows")


def test_bad_tables_are_named(make_events, class_map):
    events = make_events([("long", 1.0, 2.0, "a", True), ("gone", 1.0, 2.0, "a", True)])
    with pytest.raises(LabelError, match=r"boxes\.csv:3: recording 'gone'.*not in the recording set"):
        EventWindowSampler(events, RECORDINGS, class_map, window_s=5.0)
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['label'\]"):
        EventWindowSampler(events.drop(columns="label"), RECORDINGS, class_map, window_s=5.0)
    absent_only = make_events([("long", 1.0, 2.0, "a", False)])
    with pytest.raises(ValueError, match="no events to sample"):
        EventWindowSampler(absent_only, RECORDINGS, class_map, window_s=5.0, include_absent=False)


def test_samplers_take_a_recording_set_not_a_dict_of_durations(make_events, class_map):
    events = make_events([("long", 1.0, 2.0, "a", True)])
    with pytest.raises(TypeError, match="RecordingSet"):
        EventWindowSampler(events, {"long": 60.0}, class_map, window_s=5.0)


@pytest.mark.parametrize(("unknown", "expected"), [("zero", 0.0), ("nan", np.nan)])
def test_an_empty_recording_gives_background_windows_all_absent_or_all_unknown(
    make_events, class_map, unknown, expected
):
    # "long" holds one box; "short" was checked and holds nothing (a Raven table with no rows)
    events = make_events([("long", 1.0, 2.0, "a", True)])
    empty = RecordingSet(Recording(r, f"/audio/{r}.wav", 32000, 1, d) for r, d in {"long": 60.0, "quiet": 30.0}.items())
    sampler = EventWindowSampler(events, empty, class_map, window_s=5.0, unknown=unknown,
                                 empty_recordings=["quiet"])  # fmt: skip
    assert len(sampler) == 2 and sampler.num_background == 1
    starts = set()
    for seed in range(20):
        item = sampler.item(1, np.random.default_rng(seed))
        assert item.recording_id == "quiet" and 0.0 <= item.t0_s and item.t1_s <= 30.0
        assert item.t1_s - item.t0_s == pytest.approx(5.0)
        np.testing.assert_array_equal(item.target, np.full(len(class_map), expected, np.float32))
        starts.add(item.t0_s)
    assert len(starts) == 20  # anywhere in the recording, by the generator
    assert sampler.item(0, np.random.default_rng(0)).target[0] == 1.0  # the box's window is unchanged


def test_an_empty_recording_alone_is_enough_to_sample_and_must_be_empty(make_events, class_map):
    events = make_events([("long", 1.0, 2.0, "a", False)])
    sampler = EventWindowSampler(events, RECORDINGS, class_map, window_s=5.0, unknown="zero",
                                 include_absent=False, empty_recordings=["short"])  # fmt: skip
    item = sampler.item(0, np.random.default_rng(0))
    assert len(sampler) == 1 and item.recording_id == "short" and item.t0_s == 0.0  # shorter than the window
    with pytest.raises(ValueError, match="have label rows"):
        EventWindowSampler(events, RECORDINGS, class_map, window_s=5.0, empty_recordings=["long"])
    with pytest.raises(ValueError, match="not in the recording set"):
        EventWindowSampler(events, RECORDINGS, class_map, window_s=5.0, empty_recordings=["gone"])
