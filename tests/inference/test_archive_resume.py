"""An archive run survives ``kill -9``: the rerun scores only the rest and writes what an uninterrupted run writes."""

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from wildtag.demo import EXAMPLE_DIR
from wildtag.inference.journal import JournalKeyError, OutputLockedError
from wildtag.inference.predict import predict
from wildtag.testing import read_output

# The run as a user's script would do it, with a scorer slowed down so the test can kill it mid-run.
SCRIPT = """
import sys, time
from wildtag.inference.backends import create_scorer
from wildtag.inference.predict import predict
from wildtag.testing import read_output

class Slow:
    def __init__(self, inner, delay):
        self.inner, self.delay, self.card = inner, delay, inner.card

    def scores(self, wave):
        time.sleep(self.delay)
        return self.inner.scores(wave)

run, clips, out, delay = sys.argv[1:5]
predict(None, [clips], out, scorer=Slow(create_scorer(run, device="cpu"), float(delay)), **OPTIONS)
print("finished", flush=True)
"""
OPTIONS = {"num_workers": 1, "batch_size": 8, "shard_recordings": 2, "hop_s": 1.0, "threshold": 0.5,
           "show_progress": False, "formats": ["csv", "raven"]}
OUTPUTS = ("windows.parquet", "recordings.csv", "detections.csv", "errors.csv")


class Slow:
    def __init__(self, inner, delay=0.0):
        self.inner, self.delay, self.card = inner, delay, inner.card

    def scores(self, wave):
        time.sleep(self.delay)
        return self.inner.scores(wave)


def _scorer(run):
    from wildtag.inference.backends import create_scorer

    return Slow(create_scorer(run, device="cpu"))


def _start(run, clips, out, delay):
    script = SCRIPT.replace("**OPTIONS", "**" + repr(OPTIONS))
    return subprocess.Popen([sys.executable, "-c", script, str(run), str(clips), str(out), str(delay)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _committed(out: Path) -> list[dict]:
    manifest = out / ".wildtag" / "manifest.jsonl"
    if not manifest.exists():
        return []
    return [json.loads(line) for line in manifest.read_text().splitlines() if line.endswith("}")]


def _wait_for_shards(process, out, n, timeout_s=90):
    deadline = time.monotonic() + timeout_s
    while len(_committed(out)) < n:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run committed no shards in time"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def insect_clips(tmp_path_factory):
    """The 32 bundled InsectSet32 clips (real recordings), shared by this module's runs."""
    folder = tmp_path_factory.mktemp("archive") / "clips"
    shutil.copytree(EXAMPLE_DIR / "audio", folder)
    return folder


@pytest.fixture(scope="module")
def reference(untrained_run, insect_clips):
    """An uninterrupted run over the 32 clips."""
    out = insect_clips.parent / "reference"
    summary = predict(None, [insect_clips], out, scorer=_scorer(untrained_run), **OPTIONS)
    assert summary.n_scored == 32 and summary.n_detections > 0
    return out


def test_a_run_killed_with_sigkill_refuses_a_second_run_while_alive_and_resumes_to_the_same_outputs(
        untrained_run, insect_clips, reference, tmp_path):
    out = tmp_path / "killed"
    process = _start(untrained_run, insect_clips, out, delay=0.1)
    try:
        _wait_for_shards(process, out, 1)
        with pytest.raises(OutputLockedError, match=f"pid {process.pid} "):  # a second run on the same OUT
            predict(None, [insect_clips], out, scorer=_scorer(untrained_run), **OPTIONS)
        _wait_for_shards(process, out, 3)
    finally:
        process.kill()  # SIGKILL, at whatever point the run has reached
        process.wait()
    done_before = {r["id"] for line in _committed(out) for r in line["recordings"]}
    assert 6 <= len(done_before) < 32
    assert not (out / "windows.parquet").exists()  # final outputs appear only when complete
    assert f"pid {process.pid} " in (out / ".wildtag" / "lock").read_text()  # left behind by the dead run

    summary = predict(None, [insect_clips], out, scorer=_scorer(untrained_run), **OPTIONS)
    assert summary.n_skipped == len(done_before) and summary.n_scored == 32 - len(done_before)
    rescored = {r["id"] for line in _committed(out) for r in line["recordings"]} - done_before
    assert len(rescored) == 32 - len(done_before)  # the journal: every other recording scored once, now
    for name in OUTPUTS:  # neither the refused run nor the kill corrupted anything
        pd.testing.assert_frame_equal(read_output(out, name), read_output(reference, name), check_exact=True)
    combined = "raven/detections.selections.txt"
    assert (out / combined).read_text() == (reference / combined).read_text()
    again = predict(None, [insect_clips], out, scorer=_scorer(untrained_run), **OPTIONS)
    assert again.n_scored == 0 and again.n_skipped == 32
    assert json.loads((out / "summary.json").read_text())["n_skipped"] == 32


def test_other_settings_in_the_same_out_are_refused_unless_overwrite(untrained_run, insect_clips, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(insect_clips.parent / "reference", out)
    with pytest.raises(JournalKeyError, match=r"windows.hop_s 1.0 -> 0.5.*--overwrite"):
        predict(None, [insect_clips], out, scorer=_scorer(untrained_run), **{**OPTIONS, "hop_s": 0.5})
    with pytest.raises(JournalKeyError, match=r"detections.threshold \[0.5, 0.5, 0.5, 0.5\] -> \[0.7"):
        predict(None, [insect_clips], out, scorer=_scorer(untrained_run), **{**OPTIONS, "threshold": 0.7})
    summary = predict(None, [insect_clips], out, scorer=_scorer(untrained_run),
                      **{**OPTIONS, "hop_s": 0.5}, overwrite=True)
    assert summary.n_scored == 32 and summary.n_skipped == 0
    windows = pd.read_parquet(out / "windows.parquet")
    assert (windows.groupby("recording")["t0_s"].diff().dropna().round(6) <= 0.5).all()


def test_a_folder_that_is_not_a_predict_run_is_not_written_into(untrained_run, insect_clips, tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "field_notes.txt").write_text("do not lose me")
    with pytest.raises(FileExistsError, match="field_notes.txt"):
        predict(None, [insect_clips], tmp_path / "notes", scorer=_scorer(untrained_run), **OPTIONS)
