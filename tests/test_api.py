"""The README's Python example runs as written, and the API objects mean what they say."""

import os
import re
from pathlib import Path

import pandas as pd
import pytest

import wildtag

README = Path(__file__).resolve().parents[1] / "README.md"


def _readme_example() -> str:
    section = README.read_text().split("## Python API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_import_is_cheap_and_api_is_lazy():
    assert wildtag.__version__
    assert callable(wildtag.train) and callable(wildtag.load_model) and callable(wildtag.load_config)
    with pytest.raises(AttributeError):
        wildtag.no_such_thing  # noqa: B018


def test_readme_python_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(_readme_example(), "README.md", "exec"), namespace)  # noqa: S102
    model, windows, tags, run = namespace["model"], namespace["windows"], namespace["tags"], namespace["run"]
    held_out = namespace["held_out"]
    assert model.classes == list(run.card.class_names)
    assert list(windows.columns[:3]) == ["recording", "t0_s", "t1_s"]
    assert set(model.classes) <= set(windows.columns)
    assert len(tags) == len(held_out)
    scores = windows[model.classes].to_numpy()
    assert ((scores >= 0) & (scores <= 1)).all()
    assert (tmp_path / "wildtag-api" / "run" / "model.json").is_file()
    # the API and the evaluate function agree with the files predict writes
    out = tmp_path / "preds"
    from wildtag.inference.predict import predict

    predict(run.path, [p for p in sorted((Path(os.fspath(namespace["EXAMPLE_DIR"]))).glob("audio/*"))[:2]], out,
            show_progress=False, num_workers=0)
    assert pd.read_csv(out / "recordings.csv").shape[0] == 2


def test_the_package_exposes_the_api_the_issue_lists():
    expected = {"load_config", "train", "load_model", "evaluate", "Model", "Run"}
    assert expected <= set(wildtag.__all__) and expected <= set(dir(wildtag))
    from wildtag import api
    from wildtag.config import load_config

    assert wildtag.load_config is load_config and wildtag.Model is api.Model and wildtag.train is api.train
    for member in ("predict", "predict_recordings", "classes", "card"):
        assert hasattr(wildtag.Model, member), member
    for member in ("path", "metrics", "config", "card", "load_model"):
        assert hasattr(wildtag.Run, member) or member in getattr(wildtag.Run, "__dataclass_fields__", {}), member
