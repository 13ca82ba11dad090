"""FoldDataModule: a recording checked with nothing found (an empty Raven table) teaches absence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from wildtag.config import config_from_dict
from wildtag.testing import write_tone
from wildtag.training.datamodule import FoldDataModule
from wildtag.training.fit import split_empty_recordings, split_folds
from wildtag.training.prepare import prepare_data

RAVEN_HEADER = (
    "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\tHigh Freq (Hz)\tSpecies\n"
)


def _raven_set(root: Path) -> None:
    """Four 3-s recordings: rec01-rec03 hold one box each, rec04 was checked and holds nothing."""
    for n in range(1, 5):
        write_tone(root / f"rec0{n}.wav", sample_rate=8000, duration_s=3.0)
        rows = "" if n == 4 else f"1\tSpectrogram 1\t1\t1.0\t2.0\t100\t900\t{'AB'[n % 2]}\n"
        (root / f"rec0{n}.Table.1.selections.txt").write_text(RAVEN_HEADER + rows)


@pytest.mark.filterwarnings("ignore::wildtag.data.RareClassWarning")
@pytest.mark.parametrize(("unknown", "expected"), [("zero", 0.0), ("nan", np.nan)])
def test_an_empty_raven_table_gives_training_windows_with_every_class_absent(tmp_path, unknown, expected):
    _raven_set(tmp_path / "data")
    cfg = config_from_dict({
        "data": {"labels": str(tmp_path / "data"), "format": "raven", "cache_dir": str(tmp_path / "cache")},
        "audio": {"sample_rate": 8000, "window_s": 1.0},
        "sampler": {"train": {"name": "event_window", "unknown": unknown}},
        "folds": {"n_folds": 2},
    })  # fmt: skip
    data = prepare_data(cfg.data, show_progress=False)
    assert data.empty_recordings == ["rec04.wav"]
    splits = split_folds(cfg, data)
    empty = split_empty_recordings(cfg, data, list(splits))
    # the empty recording sits in one fold, like any recording: validated there, trained on in the other
    assert sorted(len(valid) for _, valid in empty.values()) == [0, 1]
    for fold, (train_empty, valid_empty) in empty.items():
        dm = FoldDataModule(cfg, data, *splits[fold], tmp_path / "cache", seed=0,
                            empty_recordings=(train_empty, valid_empty))  # fmt: skip
        items = [dm.train_sampler.item(i, np.random.default_rng(i)) for i in range(len(dm.train_sampler))]
        quiet = [it for it in items if it.recording_id == "rec04.wav"]
        assert len(quiet) == len(train_empty) and len(items) == len(splits[fold][0]) + len(train_empty)
        for item in quiet:
            np.testing.assert_array_equal(item.target, np.full(len(data.class_map), expected, np.float32))
        valid = [it for it in dm.valid_plan.windows.items if it.recording_id == "rec04.wav"]
        assert len(valid) == len(valid_empty)
