from pathlib import Path

import numpy as np
import pandas as pd

from wildtag.inference.aggregate import create_aggregator
from wildtag.inference.journal import FileStamp
from wildtag.inference.outputs import RecordingTables, WindowLayout
from wildtag.inference.scoring import FileResult, FileTask

CLASSES = ["a", "b", "c", "d"]
SCORES = np.array([[0.1, 0.9, 0.3, 0.9], [0.6, 0.2, 0.05, 0.4]], dtype=np.float32)


def _result():
    return FileResult(FileTask("x.wav", Path("x.wav"), FileStamp(1, 1)), np.array([0.0, 2.5]), SCORES, 7.5)


def _tables(**layout):
    return RecordingTables(CLASSES, 5.0, create_aggregator("max"), WindowLayout(**layout))(_result())


def test_wide_windows_and_pooled_recordings():
    tables = _tables()
    windows = tables["windows"].to_pandas()
    assert list(windows.columns) == ["recording", "t0_s", "t1_s", *CLASSES]
    assert windows["t1_s"].tolist() == [5.0, 7.5]
    np.testing.assert_array_equal(windows[CLASSES].to_numpy(), SCORES)
    np.testing.assert_array_equal(tables["recordings"].to_pandas()[CLASSES].to_numpy()[0], SCORES.max(axis=0))


def test_long_windows_keep_each_windows_top_k_above_the_floor():
    top2 = _tables(top_k=2)["windows"].to_pandas()
    assert list(top2.columns) == ["recording", "t0_s", "t1_s", "class", "score"]
    # ties (0.9, 0.9) keep class order; each window's two best, best first
    assert top2[["t0_s", "class"]].values.tolist() == [[0.0, "b"], [0.0, "d"], [2.5, "a"], [2.5, "d"]]
    floor = _tables(min_score=0.35)["windows"].to_pandas()
    assert floor[["t0_s", "class"]].values.tolist() == [[0.0, "b"], [0.0, "d"], [2.5, "a"], [2.5, "d"]]
    both = _tables(top_k=1, min_score=0.7)["windows"].to_pandas()
    assert both[["t0_s", "class", "score"]].values.tolist() == [[0.0, "b", np.float32(0.9)]]


def test_predict_writes_long_windows_and_an_empty_run_still_has_its_columns(untrained_run, tmp_path):
    from wildtag.inference.predict import predict
    from wildtag.testing import write_tone

    write_tone(tmp_path / "in" / "a.wav", sample_rate=16000, duration_s=2.0)
    predict(untrained_run, [tmp_path / "in"], tmp_path / "out", windows_top_k=1, num_workers=0, show_progress=False)
    windows = pd.read_parquet(tmp_path / "out" / "windows.parquet")
    assert len(windows) == 3 and windows.groupby("t0_s").size().tolist() == [1, 1, 1]
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "broken.wav").write_bytes(b"RIFF....WAVEjunk")
    summary = predict(untrained_run, [tmp_path / "bad"], tmp_path / "none", num_workers=0, show_progress=False)
    assert summary.n_recordings == 0 and summary.n_failed == 1
    assert list(pd.read_parquet(tmp_path / "none" / "windows.parquet").columns)[:3] == ["recording", "t0_s", "t1_s"]
    assert pd.read_csv(tmp_path / "none" / "errors.csv")["path"].str.endswith("broken.wav").all()
