"""A checkpoint that would run code when unpickled is refused everywhere, and never runs."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

import pytest
import torch

from wildtag.errors import ModelLoadError
from wildtag.inference.loading import load_ensemble
from wildtag.training.fit import fit


class _TouchOnLoad:
    """Unpickling this calls ``Path(marker).touch()``: what an attacker's checkpoint would do."""

    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def _wildtag(*args: str) -> subprocess.CompletedProcess:
    """The CLI as a user runs it (its entry point prints user errors as one line)."""
    return subprocess.run([sys.executable, "-c", "from wildtag.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "300"})


def _malicious_checkpoint(path: pathlib.Path, marker: pathlib.Path) -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": {}, "wildtag": {"card": {}}, "payload": _TouchOnLoad(marker)}, path)
    return path


def test_the_crafted_checkpoint_really_would_run_code(tmp_path):
    marker = tmp_path / "marker"
    ckpt = _malicious_checkpoint(tmp_path / "bad.ckpt", marker)
    torch.load(ckpt, weights_only=False)  # what the old code did
    assert marker.exists()


def test_predict_refuses_it_with_one_line_naming_the_file(tmp_path):
    marker = tmp_path / "marker"
    ckpt = _malicious_checkpoint(tmp_path / "run" / "fold-0" / "checkpoints" / "best.ckpt", marker)
    with pytest.raises(ModelLoadError) as caught:
        load_ensemble(tmp_path / "run")
    message = str(caught.value)
    assert str(ckpt) in message and "refused" in message and "\n" not in message
    result = _wildtag("predict", str(tmp_path / "run"), str(tmp_path), "--out", str(tmp_path / "o"))
    assert result.returncode != 0 and "refused" in result.stderr and "Traceback" not in result.stderr
    assert not marker.exists()


def test_train_resume_refuses_it(tmp_path, tiny_run):
    marker = tmp_path / "marker"
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(tiny_run / "config.yaml", run / "config.yaml")
    ckpt = _malicious_checkpoint(run / "fold-0" / "checkpoints" / "last.ckpt", marker)
    with pytest.raises(ModelLoadError, match="refused") as caught:
        fit(None, run, resume=True, show_progress=False)
    assert str(ckpt) in str(caught.value) and "\n" not in str(caught.value)
    result = _wildtag("train", "--resume", str(run), "--quiet")
    assert result.returncode != 0 and "refused" in result.stderr and "Traceback" not in result.stderr
    assert not marker.exists()


def test_training_checkpoints_load_with_weights_only(tiny_run):
    for name in ("best.ckpt", "last.ckpt"):
        state = torch.load(tiny_run / "fold-0" / "checkpoints" / name, weights_only=True)
        assert "card" in state["wildtag"] and state["state_dict"]
