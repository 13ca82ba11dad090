"""``--engine ray``: the same per-file work as Ray tasks on a local cluster, the same outputs as the local engine."""

import json
import shutil

import pandas as pd
import pytest

from wildtag.demo import EXAMPLE_DIR
from wildtag.inference.journal import FileStamp
from wildtag.inference.predict import local_engine, predict
from wildtag.inference.ray_engine import RayEngine, chunk_tasks
from wildtag.inference.scoring import FileTask
from wildtag.testing import read_output

OPTIONS = {"num_workers": 0, "batch_size": 8, "shard_recordings": 3, "hop_s": 1.0, "threshold": 0.5,
           "show_progress": False, "formats": ["csv", "raven"]}
OUTPUTS = ("windows.parquet", "recordings.csv", "detections.csv", "errors.csv", "raven/detections.selections.txt")


def _same_outputs(a, b):
    for name in OUTPUTS:
        pd.testing.assert_frame_equal(read_output(a, name), read_output(b, name), check_exact=True)


def test_files_are_cut_into_chunks_of_about_equal_bytes_in_their_order(tmp_path):
    tasks = [FileTask(f"{i}.wav", tmp_path / f"{i}.wav", FileStamp(size, 0))
             for i, size in enumerate([100, 100, 100, 100, 200, 200, 900])]
    assert chunk_tasks(tasks[:6], 2) == [[0, 1, 2, 3], [4, 5]]
    assert chunk_tasks(tasks[:6], 2, max_files=2) == [[0, 1], [2, 3], [4, 5]]
    assert chunk_tasks(tasks, 2) == [[0, 1, 2, 3, 4, 5], [6]]  # a big file is a chunk of its own
    assert [i for c in chunk_tasks(tasks, 100) for i in c] == list(range(7)) and chunk_tasks([], 4) == []


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """The 32 bundled InsectSet32 clips (real recordings) and one file that cannot be decoded."""
    folder = tmp_path_factory.mktemp("ray") / "clips"
    shutil.copytree(EXAMPLE_DIR / "audio", folder / "site_a")
    (folder / "site_b").mkdir()
    (folder / "site_b" / "broken.wav").write_bytes(b"RIFF....WAVEjunk")
    return folder


def test_the_ray_engine_writes_what_the_local_engine_writes_and_resumes_its_runs(ray_cluster, untrained_run, clips,
                                                                                tmp_path):
    local = predict(untrained_run, [clips], tmp_path / "local", **OPTIONS)
    engine = RayEngine(chunks_per_cpu=3)
    on_ray = predict(untrained_run, [clips], tmp_path / "ray", engine=engine, **OPTIONS)
    assert (on_ray.n_scored, on_ray.n_failed, on_ray.n_windows) == (local.n_scored, local.n_failed, local.n_windows)
    assert on_ray.n_scored == 32 and on_ray.n_failed == 1 and on_ray.n_detections == local.n_detections > 0
    _same_outputs(tmp_path / "ray", tmp_path / "local")
    journal = tmp_path / "ray" / ".wildtag" / "manifest.jsonl"
    shards = [json.loads(line) for line in journal.read_text().splitlines()]
    assert len(shards) >= 32 // 3 and sorted(r["id"] for s in shards for r in s["recordings"]) == sorted(
        pd.read_csv(tmp_path / "local" / "recordings.csv")["recording"])
    assert ray_cluster.is_initialized()  # the engine used the running cluster and left it running

    # a local run stopped after 10 files is finished on Ray: only the rest is scored, same outputs
    def stopping(work, tasks):
        for n, result in enumerate(local_engine(work, tasks)):
            if n == 10:
                raise KeyboardInterrupt
            yield result

    with pytest.raises(KeyboardInterrupt):
        predict(untrained_run, [clips], tmp_path / "resumed", engine=stopping, **OPTIONS)
    manifest = tmp_path / "resumed" / ".wildtag" / "manifest.jsonl"
    done = {r["id"] for line in manifest.read_text().splitlines() for r in json.loads(line)["recordings"]}
    assert 9 <= len(done) <= 10
    resumed = predict(untrained_run, [clips], tmp_path / "resumed", engine=engine, **OPTIONS)
    assert resumed.n_skipped == len(done) and resumed.n_scored == 32 - len(done)
    _same_outputs(tmp_path / "resumed", tmp_path / "local")


def test_predict_on_the_command_line_takes_engine_ray(ray_cluster, untrained_run, clips, tmp_path, monkeypatch,
                                                      capsys):
    import wildtag.cli as cli

    def main(*argv):
        monkeypatch.setattr("sys.argv", ["wildtag", "predict", str(untrained_run), str(clips / "site_a"), *argv])
        try:
            cli.main()
        except SystemExit as exit_:
            return exit_.code or 0, capsys.readouterr().err
        return 0, capsys.readouterr().err

    code, err = main("--out", str(tmp_path / "out"), "--quiet", "--engine", "ray", "--workers", "0")
    assert code == 0 and err.startswith("scored 32 recording(s)"), err
    assert len(pd.read_csv(tmp_path / "out" / "recordings.csv")) == 32
    code, err = main("--out", str(tmp_path / "x"), "--engine", "rya")
    assert code == 2 and "did you mean 'ray'" in err
    code, err = main("--out", str(tmp_path / "x"), "--address", "auto")
    assert code == 2 and "--address auto only applies with --engine ray" in err
