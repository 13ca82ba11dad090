"""Faults found in a hostile test: problems met while finding or reading files end in errors.csv, with the
reason, and every other file is still scored."""

import os
from pathlib import Path

import pandas as pd

from wildtag.inference.predict import predict
from wildtag.testing import write_tone


def test_loops_locked_folders_and_truncated_wavs_are_reported_and_the_rest_scored(tiny_run, tmp_path,
                                                                                  monkeypatch):
    root = tmp_path / "archive"
    write_tone(root / "site_a" / "good.wav", sample_rate=16000, duration_s=2.0, freq_hz=800.0)
    write_tone(root / "locked" / "inside.wav", sample_rate=16000, duration_s=2.0)
    (root / "site_a" / "deeper").mkdir()
    (root / "site_a" / "deeper" / "back").symlink_to("../..")  # a loop back to the input folder
    (root / "site_a" / "self.wav").symlink_to("self.wav")
    whole = write_tone(tmp_path / "whole.wav", sample_rate=16000, duration_s=3.0)
    (root / "site_a" / "cut.wav").write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    real_scandir = os.scandir

    def scandir(path):  # the tests run as root, who can list anything: simulate a locked folder
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    summary = predict(tiny_run, [root, tmp_path / "no_such_folder"], tmp_path / "out", show_progress=False,
                      num_workers=0)
    recordings = pd.read_csv(tmp_path / "out" / "recordings.csv")
    errors = pd.read_csv(tmp_path / "out" / "errors.csv")
    reasons = dict(zip((Path(p).name for p in errors["path"]), errors["reason"], strict=True))
    assert list(recordings["recording"]) == ["archive/site_a/good.wav"]  # two inputs: ids carry the folder
    assert set(reasons) == {"locked", "back", "self.wav", "cut.wav", "no_such_folder"}
    assert reasons["locked"] == "cannot list folder (permission denied)"
    assert reasons["back"].startswith("symlink loop: leads back to")
    assert reasons["self.wav"].startswith("symlink loop")
    assert reasons["cut.wav"].startswith("truncated: the WAV header promises 3.000 s of audio but the file holds")
    assert reasons["no_such_folder"] == "no such file or folder"
    assert summary.n_errors == 5 and summary.n_recordings == 1
    assert summary.n_missing == 1 and summary.n_failed == 1  # cut.wav failed to decode; the rest are paths
