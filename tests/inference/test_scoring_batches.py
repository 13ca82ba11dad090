"""ScoreFiles fills every model call with real windows, however short the files, and yields each file once."""

import math
import shutil

import numpy as np
import pytest

from wildtag.demo import EXAMPLE_DIR
from wildtag.inference.backends import create_scorer
from wildtag.inference.journal import FileStamp
from wildtag.inference.scoring import FileTask, ScoreFiles, WindowSettings


class Counting:
    def __init__(self, inner):
        self.inner, self.card, self.calls = inner, inner.card, 0

    def scores(self, wave):
        self.calls += 1
        return self.inner.scores(wave)


@pytest.mark.parametrize("workers", [0, 2])
def test_short_files_fill_whole_batches_and_every_file_comes_back_once(untrained_run, tmp_path, workers):
    clips = tmp_path / "clips"
    shutil.copytree(EXAMPLE_DIR / "audio", clips)
    (clips / "zz_broken.wav").write_bytes(b"RIFF....WAVEjunk")
    paths = sorted(clips.iterdir())
    tasks = [FileTask(p.name, p, FileStamp.of(p)) for p in paths]
    scorer = Counting(create_scorer(untrained_run, device="cpu"))
    windows = WindowSettings.from_card(scorer.card, hop_s=0.5)
    results = list(ScoreFiles(scorer, windows, batch_size=16, num_workers=workers)(tasks))
    assert sorted(r.recording_id for r in results) == sorted(t.recording_id for t in tasks)
    failed = [r for r in results if r.error is not None]
    assert [r.recording_id for r in failed] == ["zz_broken.wav"]
    n_windows = sum(len(r.scores) for r in results if r.error is None)
    # the loader's batches also carry one record per file: filled up, the model runs ceil(windows / 16) times
    assert scorer.calls == math.ceil(n_windows / 16)
    one = next(r for r in results if r.error is None)  # a file scored alone gets the same values
    again = list(ScoreFiles(scorer, windows, batch_size=16, num_workers=0)([one.task]))[0]
    np.testing.assert_array_equal(again.scores, one.scores)
    np.testing.assert_array_equal(again.t0_s, one.t0_s)
    assert again.duration_s == one.duration_s > 0
