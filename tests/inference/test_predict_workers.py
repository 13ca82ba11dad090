"""Decoding in worker processes (``num_workers >= 1``) writes what decoding in the process (``0``) writes."""

import shutil

import pandas as pd

from wildtag.demo import EXAMPLE_DIR
from wildtag.inference.predict import predict
from wildtag.testing import read_output

OPTIONS = {"batch_size": 8, "hop_s": 0.5, "threshold": 0.5, "show_progress": False, "formats": ["csv", "raven"],
           "shard_recordings": 4}
OUTPUTS = ("windows.parquet", "recordings.csv", "detections.csv", "errors.csv", "raven/detections.selections.txt")


def test_worker_processes_give_the_outputs_of_in_process_decoding(untrained_run, tmp_path):
    clips = tmp_path / "clips"
    shutil.copytree(EXAMPLE_DIR / "audio", clips / "site_a")  # 32 real recordings, 1.5 to 6 s
    (clips / "site_b").mkdir()
    (clips / "site_b" / "broken.wav").write_bytes(b"RIFF....WAVEjunk")  # fails inside a worker
    runs = {workers: predict(untrained_run, [clips], tmp_path / f"w{workers}", num_workers=workers, **OPTIONS)
            for workers in (0, 1, 2)}
    assert all((s.n_scored, s.n_failed) == (32, 1) for s in runs.values())
    assert len({s.n_windows for s in runs.values()}) == 1 and runs[0].n_detections > 0
    for workers in (1, 2):  # 2 workers: files interleaved between them, finishing out of order
        for name in OUTPUTS:
            pd.testing.assert_frame_equal(read_output(tmp_path / f"w{workers}", name), read_output(tmp_path / "w0", name),
                                          check_exact=True)
    # without the journal rows go out in the order files finish: the same rows, possibly in another order
    direct = predict(untrained_run, [clips], tmp_path / "direct", num_workers=2, journal=False, **OPTIONS)
    assert direct.n_scored == 32
    windows = pd.read_parquet(tmp_path / "direct" / "windows.parquet").sort_values(["recording", "t0_s"])
    pd.testing.assert_frame_equal(windows.reset_index(drop=True),
                                  pd.read_parquet(tmp_path / "w0" / "windows.parquet"), check_exact=True)
