from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import wildtag.embeddings.embed as embed_module
from wildtag.config import ConfigError
from wildtag.embeddings.embed import embed_paths
from wildtag.embeddings.store import EmbeddingStore

from .conftest import RATE, write_tone


@pytest.fixture
def survey(tmp_path):
    root = tmp_path / "survey"
    for i, freq in enumerate((300.0, 900.0, 2000.0)):
        write_tone(root / f"site_{i}" / "dawn.wav", freq, seconds=2.6, seed=i)
    (root / "broken.wav").write_bytes(b"RIFF not really audio")
    return root


def test_embed_writes_one_vector_per_window_and_reports_bad_files(survey, tmp_path, onnx_spec, tiny_embedder):
    summary = embed_paths(onnx_spec, [survey], tmp_path / "emb", hop_s=0.5, show_progress=False)
    assert (summary.n_recordings, summary.n_errors) == (3, 1)
    errors = pd.read_csv(tmp_path / "emb" / "errors.csv")
    assert errors["path"].str.endswith("broken.wav").all() and errors["reason"].str.len().gt(0).all()

    store = EmbeddingStore.open(tmp_path / "emb")
    assert store.manifest.dim == 16 and store.manifest.licence == "cc0-1.0" and store.manifest.hop_s == 0.5
    rows = store.read()
    assert set(rows.recording) == {"site_0/dawn.wav", "site_1/dawn.wav", "site_2/dawn.wav"}
    one = rows.select(rows.recording == "site_1/dawn.wav")
    from wildtag.inference.plan import window_starts

    np.testing.assert_allclose(one.t0_s, window_starts(2.6, 1.0, 0.5))  # the windows predict would score
    np.testing.assert_allclose(one.t1_s - one.t0_s, 1.0)
    from wildtag.audio import load

    wave = load(survey / "site_1" / "dawn.wav", sample_rate=RATE)[RATE // 2: RATE // 2 + RATE]
    with torch.no_grad():
        expected = tiny_embedder(torch.from_numpy(wave)[None]).numpy()[0]
    np.testing.assert_allclose(one.vectors[1], expected, rtol=1e-5, atol=1e-6)


def _sorted(rows):
    order = np.lexsort((rows.t0_s, rows.recording))
    return rows.select(order)


def test_embed_resumes_where_an_interrupted_run_stopped(survey, tmp_path, onnx_spec, monkeypatch):
    whole = embed_paths(onnx_spec, [survey], tmp_path / "whole", hop_s=0.5, show_progress=False)
    reference = _sorted(EmbeddingStore.open(tmp_path / "whole").read())

    real_embed, calls = embed_module.EmbeddingFrontend.embed, {"n": 0}

    def dies_on_the_third_batch(self, wave):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # kill -INT in the middle of the archive
        return real_embed(self, wave)

    monkeypatch.setattr(embed_module.EmbeddingFrontend, "embed", dies_on_the_third_batch)
    out = tmp_path / "interrupted"
    options = {"hop_s": 0.5, "show_progress": False, "shard_recordings": 1}  # a shard after every recording
    with pytest.raises(KeyboardInterrupt):
        embed_paths({**onnx_spec, "batch_size": 4}, [survey], out, **options)
    partial = EmbeddingStore.open(out).recordings()
    assert 0 < len(partial) < 3

    monkeypatch.setattr(embed_module.EmbeddingFrontend, "embed", real_embed)
    resumed = embed_paths({**onnx_spec, "batch_size": 4}, [survey], out, **options)  # batch size: not in the key
    assert resumed.n_already == len(partial) and resumed.n_recordings == 3 - len(partial)
    rows = _sorted(EmbeddingStore.open(out).read())
    assert len(rows) == len(reference) == whole.n_windows  # nothing embedded twice, nothing lost
    np.testing.assert_array_equal(rows.recording, reference.recording)
    np.testing.assert_allclose(rows.vectors, reference.vectors, rtol=1e-5, atol=1e-6)

    again = embed_paths({**onnx_spec, "batch_size": 4}, [survey], out, **options)
    assert again.n_recordings == 0 and again.n_already == 3


# A user's script, its embedding model slowed down so that the test can kill it between shards.
SCRIPT = """
import sys, time
import wildtag.embeddings.embed as embed_module
from wildtag.embeddings.embed import embed_paths

real = embed_module.EmbeddingFrontend.embed
def slow(self, wave):
    time.sleep(0.15)
    return real(self, wave)
embed_module.EmbeddingFrontend.embed = slow
spec = dict(name="onnx_embedding", path=sys.argv[1], sample_rate=8000, window_s=1.0, output_name="embedding",
            licence="cc0-1.0", batch_size=2)
embed_paths(spec, [sys.argv[2]], sys.argv[3], hop_s=0.5, show_progress=False, shard_recordings=1)
print("finished", flush=True)
"""


def test_an_embed_killed_with_sigkill_resumes_to_the_same_store_embedding_only_the_rest(
        tmp_path, tiny_onnx, onnx_spec, monkeypatch):
    import json
    import subprocess
    import sys
    import time

    from wildtag.inference.journal import OutputLockedError

    survey = tmp_path / "survey"
    for i in range(8):
        write_tone(survey / f"rec_{i}.wav", 200.0 + 150 * i, seconds=2.0, seed=i)
    embed_paths(onnx_spec, [survey], tmp_path / "whole", hop_s=0.5, show_progress=False)
    reference = _sorted(EmbeddingStore.open(tmp_path / "whole").read())

    out = tmp_path / "killed"
    manifest = out / ".wildtag" / "manifest.jsonl"
    process = subprocess.Popen([sys.executable, "-c", SCRIPT, str(tiny_onnx), str(survey), str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while not (manifest.exists() and manifest.read_text().count("\n") >= 2):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the run committed no shard in time"
            time.sleep(0.02)
        with pytest.raises(OutputLockedError, match=f"pid {process.pid} "):  # a second run on the same store
            embed_paths(onnx_spec, [survey], out, hop_s=0.5, show_progress=False)
    finally:
        process.kill()  # SIGKILL, wherever the run is
        process.wait()
    committed = {r["id"] for line in manifest.read_text().splitlines() if line.endswith("}")
                 for r in json.loads(line)["recordings"]}
    assert 2 <= len(committed) < 8
    assert EmbeddingStore.open(out).recordings() == committed  # readable as it was left, no lock taken

    embedded: list[str] = []
    real_embed = embed_module.EmbeddingFrontend.embed
    monkeypatch.setattr(embed_module.EmbeddingFrontend, "embed",
                        lambda self, wave: (embedded.append(len(wave)), real_embed(self, wave))[1])
    resumed = embed_paths(onnx_spec, [survey], out, hop_s=0.5, show_progress=False)
    assert resumed.n_already == len(committed) and resumed.n_recordings == 8 - len(committed)
    assert sum(embedded) == resumed.n_windows == 3 * (8 - len(committed))  # only the rest was embedded
    rows = _sorted(EmbeddingStore.open(out).read())
    np.testing.assert_array_equal(rows.recording, reference.recording)
    np.testing.assert_array_equal(rows.t0_s, reference.t0_s)
    np.testing.assert_allclose(rows.vectors, reference.vectors, rtol=1e-6, atol=1e-7)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_already"] == len(committed) and summary["n_recordings"] == 8 - len(committed)


def test_a_changed_file_is_embedded_again_and_replaces_its_rows(survey, tmp_path, onnx_spec):
    out = tmp_path / "emb"
    first = embed_paths(onnx_spec, [survey], out, hop_s=0.5, show_progress=False)
    write_tone(survey / "site_0" / "dawn.wav", 3000.0, seconds=4.0, seed=5)  # re-recorded: longer, other pitch
    again = embed_paths(onnx_spec, [survey], out, hop_s=0.5, show_progress=False)
    assert (again.n_recordings, again.n_already) == (1, 2)
    rows = EmbeddingStore.open(out).read()
    one = rows.select(rows.recording == "site_0/dawn.wav")
    assert one.t1_s.max() == pytest.approx(4.0) and len(one) == 7  # windows of the new file
    assert len(rows) == first.n_windows * 2 // 3 + len(one)  # its old rows are gone


def test_a_store_refuses_vectors_of_another_model_or_hop_unless_overwrite(survey, tmp_path, onnx_spec):
    from wildtag.inference.journal import JournalKeyError

    embed_paths(onnx_spec, [survey / "site_0"], tmp_path / "emb", hop_s=0.5, show_progress=False)
    with pytest.raises(JournalKeyError, match=r"hop_s 0.5 -> 1.0.*--overwrite"):
        embed_paths(onnx_spec, [survey / "site_0"], tmp_path / "emb", hop_s=1.0, show_progress=False)
    with pytest.raises(JournalKeyError, match=r"model.window_s 1.0 -> 0.5"):
        embed_paths({**onnx_spec, "window_s": 0.5}, [survey / "site_0"], tmp_path / "emb", hop_s=0.5,
                    show_progress=False)
    summary = embed_paths(onnx_spec, [survey / "site_0"], tmp_path / "emb", hop_s=1.0, show_progress=False,
                          overwrite=True)
    store = EmbeddingStore.open(tmp_path / "emb")
    assert summary.n_already == 0 and store.manifest.hop_s == 1.0
    np.testing.assert_allclose(store.read().t0_s, [0.0, 1.0, 1.6])


def test_a_spectrogram_frontend_is_not_an_embedding_model(survey, tmp_path):
    with pytest.raises(ConfigError, match="not an embedding model"):
        embed_paths({"name": "logmel", "sample_rate": RATE}, [survey], tmp_path / "emb", show_progress=False)


def test_missing_inputs_are_reported_and_the_rest_embedded(survey, tmp_path, onnx_spec):
    summary = embed_paths(onnx_spec, [survey / "site_0", tmp_path / "absent"], tmp_path / "emb", show_progress=False)
    assert summary.n_recordings == 1
    errors = pd.read_csv(tmp_path / "emb" / "errors.csv")
    assert errors["path"].str.endswith("absent").any()
