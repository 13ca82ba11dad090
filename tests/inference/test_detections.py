import json

import numpy as np
import pandas as pd
import pytest

from wildtag.config import ConfigError
from wildtag.inference.detections import DetectionSettings, detect, read_thresholds
from wildtag.inference.predict import predict

CLASSES = ["wren", "robin"]


def _windows(scores, window_s=5.0, hop_s=2.5):
    scores = np.asarray(scores, dtype=np.float32)
    t0 = np.arange(len(scores)) * hop_s
    return t0, t0 + window_s, scores


def test_three_overlapping_windows_above_threshold_merge_into_one_event():
    # 5-s windows every 2.5 s; wren is above 0.5 in the windows starting at 10, 12.5 and 15 s
    wren = [0.1, 0.2, 0.3, 0.4, 0.6, 0.9, 0.7, 0.2, 0.1]
    t0, t1, scores = _windows(np.stack([wren, np.zeros(9)], axis=1))
    events = detect(t0, t1, scores, CLASSES, np.array([0.5, 0.5]), DetectionSettings())
    assert len(events) == 1
    event = events.iloc[0]
    assert (event["class"], event["t0_s"], event["t1_s"], event["n_windows"]) == ("wren", 10.0, 20.0, 3)
    assert event["score_max"] == pytest.approx(0.9) and event["score_mean"] == pytest.approx((0.6 + 0.9 + 0.7) / 3)
    assert np.isnan(event["f0_hz"]) and np.isnan(event["f1_hz"])


def test_a_gap_splits_events_unless_max_gap_bridges_it_and_min_duration_drops_short_ones():
    # 1-s windows every 1 s: wren at 0-2 s and 3-4 s (a 1-s gap), robin only at 6-7 s
    scores = np.zeros((8, 2))
    scores[[0, 1, 3], 0] = 0.8
    scores[6, 1] = 0.9
    t0, t1, scores = _windows(scores, window_s=1.0, hop_s=1.0)
    apart = detect(t0, t1, scores, CLASSES, np.array([0.5, 0.5]), DetectionSettings())
    assert apart[["class", "t0_s", "t1_s"]].values.tolist() == [["wren", 0.0, 2.0], ["wren", 3.0, 4.0],
                                                                 ["robin", 6.0, 7.0]]
    bridged = detect(t0, t1, scores, CLASSES, np.array([0.5, 0.5]), DetectionSettings(max_gap_s=1.0))
    assert bridged[["class", "t0_s", "t1_s", "n_windows"]].values.tolist() == [["wren", 0.0, 4.0, 3],
                                                                               ["robin", 6.0, 7.0, 1]]
    long_only = detect(t0, t1, scores, CLASSES, np.array([0.5, 0.5]), DetectionSettings(min_duration_s=1.5))
    assert long_only[["class", "t0_s", "t1_s"]].values.tolist() == [["wren", 0.0, 2.0]]
    per_class = detect(t0, t1, scores, CLASSES, np.array([0.5, 0.95]), DetectionSettings())
    assert set(per_class["class"]) == {"wren"}  # robin's 0.9 is below its own threshold


def test_nms_keeps_the_best_window_and_drops_those_overlapping_it():
    wren = [0.6, 0.9, 0.7, 0.1, 0.1, 0.8]  # windows [0,5) [2.5,7.5) [5,10) ... [12.5,17.5)
    t0, t1, scores = _windows(np.stack([wren, np.zeros(6)], axis=1))
    events = detect(t0, t1, scores, CLASSES, np.array([0.5, 0.5]), DetectionSettings(method="nms"))
    assert events[["t0_s", "t1_s", "score_max", "n_windows"]].values.tolist() == [
        [2.5, 7.5, pytest.approx(0.9), 1], [12.5, 17.5, pytest.approx(0.8), 1]]
    # allowing an overlap of 1/3 (IoU of windows half a window apart) keeps the neighbours too
    loose = detect(t0, t1, scores, CLASSES, np.array([0.5, 0.5]), DetectionSettings(method="nms", nms_iou=0.34))
    assert loose["t0_s"].tolist() == [0.0, 2.5, 5.0, 12.5]


def test_box_crop_models_give_their_class_band():
    t0, t1, scores = _windows([[0.9, 0.9]])
    events = detect(t0, t1, scores, CLASSES, np.array([0.5, 0.5]), DetectionSettings(),
                    class_boxes={"wren": [2000.0, 6000.0, 1.5], "robin": [800.0, 3000.0, 4.0]})
    assert events.set_index("class")[["f0_hz", "f1_hz"]].to_dict("index") == {
        "wren": {"f0_hz": 2000.0, "f1_hz": 6000.0}, "robin": {"f0_hz": 800.0, "f1_hz": 3000.0}}


def test_thresholds_files_csv_with_default_row_and_json(tmp_path):
    csv = tmp_path / "thresholds.csv"
    csv.write_text("class,threshold\n*,0.4\nrobin,0.75\n")
    np.testing.assert_allclose(read_thresholds(csv, CLASSES), [0.4, 0.75])
    js = tmp_path / "thresholds.json"
    js.write_text(json.dumps({"wren": 0.2, "robin": 0.3}))
    np.testing.assert_allclose(DetectionSettings(threshold=str(js)).thresholds(CLASSES), [0.2, 0.3])


@pytest.mark.parametrize(("text", "message"), [
    ("class,threshold\nrobni,0.5\n*,0.5\n", r"thresholds.csv:2: class 'robni' is not one of the model's classes "
                                            r"\(did you mean 'robin'\?\)"),
    ("class,threshold\nrobin,0.5\n", r"no threshold for 1 class\(es\) \('wren'\) and no '\*' default row"),
    ("class,threshold\nrobin,1.5\nwren,0.5\n", r"thresholds.csv:2: a threshold must be a number in \[0, 1\]"),
    ("class,threshold\nrobin,high\nwren,0.5\n", r"thresholds.csv:2: threshold 'high' is not a number"),
    ("name,value\nrobin,0.5\n", r"columns class,threshold"),
])
def test_bad_thresholds_files_name_the_row(tmp_path, text, message):
    path = tmp_path / "thresholds.csv"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        read_thresholds(path, CLASSES)


def test_bad_settings_are_refused_with_the_closest_name():
    with pytest.raises(ConfigError, match=r"unknown detection setting 'max_gap' \(did you mean 'max_gap_s'\?\)"):
        DetectionSettings.from_dict({"max_gap": 1.0})
    with pytest.raises(ConfigError, match="method 'nsm'"):
        DetectionSettings(method="nsm")


def test_the_model_cards_detection_defaults_turn_detections_on(tmp_path):
    from wildtag.testing import write_tone_bursts

    from .conftest import write_untrained_run

    run = write_untrained_run(tmp_path / "run", detections={"threshold": 0.0, "max_gap_s": 0.5})
    write_tone_bursts(tmp_path / "in" / "a.wav", 16000, 3.0, [(0.5, 2.0, 800.0)])
    summary = predict(run, [tmp_path / "in"], tmp_path / "out", num_workers=0, show_progress=False)
    detections = pd.read_csv(tmp_path / "out" / "detections.csv")
    # threshold 0: every class is detected over the whole recording, as one merged event
    assert summary.n_detections == 4 and set(detections["t0_s"]) == {0.0} and set(detections["t1_s"]) == {3.0}
    assert set(detections["n_windows"]) == {5}  # 1-s windows every 0.5 s on 3 s
