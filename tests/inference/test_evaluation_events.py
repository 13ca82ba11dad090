import numpy as np
import pandas as pd
import pytest

from wildtag.evaluation import evaluate_files
from wildtag.evaluation_events import evaluate_detections, score_table, write_plots
from wildtag.labels import make_events, write_raven, write_table

PNG = b"\x89PNG\r\n\x1a\n"


def _detections(rows):
    return pd.DataFrame(rows, columns=["recording", "t0_s", "t1_s", "class", "score_max"])


def test_each_box_is_found_once_at_the_iou_threshold():
    truth = pd.DataFrame({"recording": ["r1", "r1", "r2"], "t0_s": [1.0, 10.0, 0.0], "t1_s": [3.0, 12.0, 2.0],
                          "label": ["wren", "wren", "wren"]})
    detections = _detections([
        ("r1", 1.2, 3.2, "wren", 0.9),   # IoU 1.8 / 2.2 = 0.82: found
        ("r1", 1.0, 3.0, "wren", 0.8),   # the same box again: a false positive
        ("r1", 11.5, 14.0, "wren", 0.7),  # IoU 0.5 / 4 = 0.125: not enough
        ("r2", 0.0, 2.0, "robin", 0.95),  # right place, wrong class
    ])
    metrics, table, flagged = evaluate_detections(detections, truth, ["wren", "robin"], iou=0.5)
    wren = table.set_index("class").loc["wren"]
    assert (wren["tp"], wren["fp"], wren["fn"]) == (1, 2, 2)
    assert wren["precision"] == pytest.approx(1 / 3) and wren["recall"] == pytest.approx(1 / 3)
    assert wren["ap"] == pytest.approx(1 / 3)  # the top-ranked detection is the hit: precision 1 at recall 1/3
    assert flagged["true_positive"].tolist() == [True, False, False, False]
    assert (metrics["tp"], metrics["fp"], metrics["fn"]) == (1, 3, 2)
    loose = evaluate_detections(detections, truth, ["wren", "robin"], iou=0.1)[1].set_index("class")
    assert loose.loc["wren", "tp"] == 2  # at IoU 0.1 the third detection finds the second box


def test_two_folders_with_the_same_names_are_scored_against_their_own_boxes(tmp_path):
    out = tmp_path / "preds"
    out.mkdir()
    _detections([("site_a/x.wav", 1.0, 3.0, "wren", 0.9), ("site_b/x.wav", 5.0, 7.0, "robin", 0.8)]).to_csv(
        out / "detections.csv", index=False)
    pd.DataFrame({"recording": ["site_a/x.wav", "site_b/x.wav", "site_c/y.wav"], "wren": [0.9, 0.1, 0.2],
                  "robin": [0.1, 0.8, 0.1]}).to_csv(out / "recordings.csv", index=False)
    truth = make_events([
        {"recording_id": "site_a/x.wav", "t0_s": 1.2, "t1_s": 3.1, "label": "wren"},
        {"recording_id": "site_b/x.wav", "t0_s": 5.0, "t1_s": 7.0, "label": "robin"},
        {"recording_id": "site_c/y.wav", "t0_s": 0.0, "t1_s": 1.0, "label": "wren"},  # scored, nothing found
    ])
    write_table(truth, tmp_path / "truth.csv")
    result = evaluate_files(out / "detections.csv", tmp_path / "truth.csv", iou=0.5)
    table = result.per_class.set_index("class")
    assert table.loc["wren", ["tp", "fn"]].tolist() == [1, 1] and table.loc["robin", ["tp", "fn"]].tolist() == [1, 0]
    assert result.metrics["n_recordings"] == 3
    swapped = truth.assign(recording_id=truth["recording_id"].map(
        {"site_a/x.wav": "site_b/x.wav", "site_b/x.wav": "site_a/x.wav", "site_c/y.wav": "site_c/y.wav"}))
    write_table(swapped, tmp_path / "swapped.csv")
    assert evaluate_files(out / "detections.csv", tmp_path / "swapped.csv").metrics["tp"] == 0


def test_raven_truth_tables_and_plots_of_a_detection_evaluation(tmp_path):
    out = tmp_path / "preds"
    out.mkdir()
    _detections([("0600.wav", 1.0, 3.0, "wren", 0.9), ("0600.wav", 8.0, 9.0, "wren", 0.4)]).to_csv(
        out / "detections.csv", index=False)
    (tmp_path / "truth").mkdir()
    write_raven(make_events([{"recording_id": "0600.wav", "t0_s": 1.0, "t1_s": 3.0, "label": "wren"}]),
                tmp_path / "truth" / "0600.Table.1.selections.txt")
    result = evaluate_files(out / "detections.csv", tmp_path / "truth")
    assert (result.metrics["tp"], result.metrics["fp"]) == (1, 1)
    written = write_plots(result, tmp_path / "plots")
    assert sorted(p.name for p in written) == ["pr_curves.png", "score_histograms.png"]
    assert all(p.read_bytes()[:8] == PNG for p in written)


def test_windows_with_times_and_long_windows_still_evaluate_and_single_label_sets_get_a_confusion_matrix(tmp_path):
    long = pd.DataFrame({"recording": ["a.wav", "a.wav", "b.wav"], "t0_s": [0.0, 0.0, 0.0], "t1_s": [1.0, 1.0, 1.0],
                         "class": ["wren", "robin", "robin"], "score": np.array([0.9, 0.2, 0.7], dtype=np.float32),
                         "datetime": ["2024-05-01T05:00:00.000", "2024-05-01T05:00:00.000", None]})
    wide = score_table(long)
    assert list(wide.columns) == ["recording", "t0_s", "t1_s", "robin", "wren"]
    assert wide.set_index("recording").loc["b.wav", ["robin", "wren"]].tolist() == pytest.approx([0.7, 0.0])
    long.to_parquet(tmp_path / "windows.parquet")
    (tmp_path / "labels.csv").write_text("file,label\na.wav,wren\nb.wav,robin\n")
    result = evaluate_files(tmp_path / "windows.parquet", tmp_path / "labels.csv")
    assert result.metrics["accuracy"] == 1.0
    names = sorted(p.name for p in write_plots(result, tmp_path / "plots"))
    assert names == ["confusion_matrix.png", "pr_curves.png", "score_histograms.png"]


def test_evaluate_on_the_command_line_writes_plots(tmp_path, monkeypatch, capsys):
    import wildtag.cli as cli

    out = tmp_path / "preds"
    out.mkdir()
    _detections([("0600.wav", 1.0, 3.0, "wren", 0.9)]).to_csv(out / "detections.csv", index=False)
    write_table(make_events([{"recording_id": "0600.wav", "t0_s": 1.5, "t1_s": 3.0, "label": "wren"}]),
                tmp_path / "truth.csv")
    monkeypatch.setattr("sys.argv", ["wildtag", "evaluate", str(out / "detections.csv"), str(tmp_path / "truth.csv"),
                                     "--iou", "0.7", "--plots", str(tmp_path / "plots")])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code == 0
    assert (tmp_path / "plots" / "pr_curves.png").read_bytes()[:8] == PNG
    assert "plots:" in capsys.readouterr().err
