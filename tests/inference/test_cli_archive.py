"""``wildtag predict`` on the command line: the summary line, exit codes, detections and formats."""

import json

import pandas as pd
import pytest

import wildtag.cli as cli
from wildtag.testing import write_tone


def _main(monkeypatch, capsys, *argv: str) -> tuple[int, str]:
    monkeypatch.setattr("sys.argv", ["wildtag", *argv])
    try:
        cli.main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code or 0
    return code, capsys.readouterr().err


@pytest.fixture
def folder(tmp_path):
    write_tone(tmp_path / "in" / "a.wav", sample_rate=16000, duration_s=2.0, freq_hz=800.0)
    write_tone(tmp_path / "in" / "b.wav", sample_rate=16000, duration_s=3.0, freq_hz=3000.0)
    (tmp_path / "in" / "broken.wav").write_bytes(b"RIFF....WAVEjunk")
    return tmp_path / "in"


def test_predict_prints_one_summary_line_writes_summary_json_and_the_formats(untrained_run, folder, tmp_path,
                                                                            monkeypatch, capsys):
    thresholds = tmp_path / "thresholds.csv"
    thresholds.write_text("class,threshold\n*,0.0\n")
    out = tmp_path / "out"
    code, err = _main(monkeypatch, capsys, "predict", str(untrained_run), str(folder), "--out", str(out),
                      "--workers", "0", "--quiet", "--threshold", str(thresholds), "--format", "raven",
                      "--format", "csv", "--max-gap-s", "1")
    assert code == 0, err
    assert err.splitlines()[0].startswith("scored 2 recording(s)") and "1 failed" in err.splitlines()[0]
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["n_scored"], summary["n_skipped"], summary["n_failed"]) == (2, 0, 1)
    assert summary["audio_s"] == pytest.approx(5.0) and summary["times_real_time"] > 0
    detections = pd.read_csv(out / "detections.csv")
    assert set(detections["recording"]) == {"a.wav", "b.wav"} and (out / "raven" / "a.Table.1.selections.txt").exists()
    code, err = _main(monkeypatch, capsys, "predict", str(untrained_run), str(folder), "--out", str(out),
                      "--workers", "0", "--quiet", "--threshold", str(thresholds), "--format", "raven",
                      "--format", "csv", "--max-gap-s", "1")
    assert code == 0 and "skipped 2 already done" in err


def test_fail_on_error_stops_at_the_bad_file_and_nothing_scored_exits_1(untrained_run, folder, tmp_path,
                                                                       monkeypatch, capsys):
    code, err = _main(monkeypatch, capsys, "predict", str(untrained_run), str(folder), "--out",
                      str(tmp_path / "strict"), "--workers", "0", "--quiet", "--fail-on-error")
    assert code == 2 and "broken.wav" in err and "--fail-on-error" in err
    only_bad = tmp_path / "bad"
    only_bad.mkdir()
    (only_bad / "x.wav").write_bytes(b"RIFF....WAVEjunk")
    code, err = _main(monkeypatch, capsys, "predict", str(untrained_run), str(only_bad), "--out",
                      str(tmp_path / "none"), "--workers", "0", "--quiet")
    assert code == 1 and "nothing could be scored" in err


def test_contradicting_detection_options_are_refused(untrained_run, folder, monkeypatch, capsys):
    code, err = _main(monkeypatch, capsys, "predict", str(untrained_run), str(folder), "--nms-iou", "0.3")
    assert code == 2 and "--nms-iou 0.3 only applies with --nms" in err
    code, err = _main(monkeypatch, capsys, "predict", str(untrained_run), str(folder), "--format", "ravn",
                      "--out", str(folder.parent / "o"))
    assert code == 2 and "did you mean 'raven'" in err


_PREDICT_THEN_SHOW_OMP_POLICY = """
import os, sys
from wildtag.cli import main
sys.argv = ["wildtag", *sys.argv[1:]]
try:
    main()
finally:
    print("OMP_WAIT_POLICY", os.environ.get("OMP_WAIT_POLICY"))
"""


def test_predict_lets_openmp_threads_sleep_when_torch_has_not_loaded_yet(untrained_run, folder, tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    args = [sys.executable, "-c", _PREDICT_THEN_SHOW_OMP_POLICY, "predict", str(untrained_run),
            str(folder / "a.wav"), "--out", str(tmp_path / "out"), "--workers", "0", "--quiet"]
    done = subprocess.run(args, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "OMP_WAIT_POLICY PASSIVE"
    done = subprocess.run([*args, "--overwrite"], capture_output=True, text=True,
                          env={**env, "OMP_WAIT_POLICY": "ACTIVE"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "OMP_WAIT_POLICY ACTIVE"  # the user's choice stands


def test_predict_gives_torch_every_core_beside_the_decode_worker_unless_threads_is_given(untrained_run, folder,
                                                                                          tmp_path, monkeypatch,
                                                                                          capsys):
    import os

    import torch

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        code, err = _main(monkeypatch, capsys, "predict", str(untrained_run), str(folder / "a.wav"), "--out",
                          str(tmp_path / "all"), "--workers", "1", "--quiet")
        assert code == 0, err
        assert torch.get_num_threads() == os.cpu_count()
        code, err = _main(monkeypatch, capsys, "predict", str(untrained_run), str(folder / "a.wav"), "--out",
                          str(tmp_path / "one"), "--workers", "0", "--threads", "1", "--quiet")
        assert code == 0, err
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
