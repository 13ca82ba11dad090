from __future__ import annotations

from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real recordings beside the checkout (../shared/data); tests that need them skip without it."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not beside this checkout")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _leave_malloc_as_it_is(monkeypatch):
    """CLI scoring tunes glibc's malloc for the whole process; the test process keeps its own settings.

    ``tests/test_runtime.py`` checks the setting itself in a subprocess.
    """
    monkeypatch.setattr("wildtag.runtime.keep_freed_memory", lambda: False)


TINY_RECIPE = {
    "name": "tiny",
    "seed": 0,
    "data": {"labels": None, "split_column": "split"},
    "audio": {"sample_rate": 16000, "window_s": 1.0},
    "sampler": {"train": {"name": "random_window", "samples_per_epoch": 128}},
    "model": {
        "frontend": {"name": "logmel", "n_fft": 512, "hop_length": 256, "n_mels": 32},
        "backbone": {"name": "tiny_cnn"},
        "head": {"name": "linear"},
    },
    "loss": {"name": "bce"},
    "optimizer": {"lr": 0.003},
    "trainer": {"epochs": 3, "batch_size": 16, "num_workers": 0},
    "inference": {"hop_s": 0.5},
}


@pytest.fixture(scope="session")
def tone_labels(tmp_path_factory) -> Path:
    """A clip-labelled tone set (two classes, six recordings each, one per class for validation)."""
    from wildtag.testing import write_tone_clip_dataset

    return write_tone_clip_dataset(tmp_path_factory.mktemp("tones"), per_class=6)


def tiny_config(tmp_path: Path, labels: Path, *overrides: str):
    """The tiny recipe pointed at ``labels``, with its cache under ``tmp_path``."""
    from wildtag.config import load_config

    recipe = dict(TINY_RECIPE, data={**TINY_RECIPE["data"], "labels": str(labels),
                                       "cache_dir": str(tmp_path / "cache")})
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return load_config(path, list(overrides))


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tone_labels) -> Path:
    """A trained run on the tone set, shared by the inference tests."""
    from wildtag.training.fit import fit

    tmp = tmp_path_factory.mktemp("run")
    return fit(tiny_config(tmp, tone_labels), tmp / "runs" / "tiny", show_progress=False)


@pytest.fixture
def make_tiny_config():
    """Factory: ``make_tiny_config(tmp_path, labels, "trainer.epochs=2", ...)``."""
    return tiny_config
