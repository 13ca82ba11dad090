import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from wildtag import cli
from wildtag.evaluation import evaluate_files
from wildtag.metrics import lwlrap

runner = CliRunner()


def run(*args: str):
    """Invoke the CLI as the console script does (errors mapped to one line, exit 2)."""
    try:
        result = runner.invoke(cli.app, list(args), catch_exceptions=False)
        return result.exit_code, result.output
    except SystemExit as exit_:  # pragma: no cover - typer exits through SystemExit
        return exit_.code, ""


@pytest.fixture
def clip_case(tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text("fname,labels\na.wav,\"bird,frog\"\nb.wav,frog\nc.wav,insect\n")
    preds = tmp_path / "recordings.csv"
    pd.DataFrame({
        "recording": ["x/a.wav", "x/b.wav", "x/c.wav", "x/unlabelled.wav"],
        "bird": [0.9, 0.2, 0.1, 0.5], "frog": [0.3, 0.8, 0.6, 0.5], "insect": [0.1, 0.1, 0.4, 0.5],
    }).to_csv(preds, index=False)
    return preds, labels


def test_evaluate_matches_metrics_on_arrays(clip_case):
    preds, labels = clip_case
    result = evaluate_files(preds, labels)
    y_true = np.array([[1, 1, 0], [0, 1, 0], [0, 0, 1]])
    y_score = np.array([[0.9, 0.3, 0.1], [0.2, 0.8, 0.1], [0.1, 0.6, 0.4]])
    assert result.metrics["lwlrap"] == pytest.approx(lwlrap(y_true, y_score))
    assert result.n_unmatched == 1
    assert list(result.per_class["class"]) == ["bird", "frog", "insect"]


def test_evaluate_command_writes_json(clip_case, tmp_path):
    preds, labels = clip_case
    code, output = run("evaluate", str(preds), str(labels), "--out", str(tmp_path / "m.json"))
    assert code == 0, output
    written = json.loads((tmp_path / "m.json").read_text())
    assert written["lwlrap"] == pytest.approx(evaluate_files(preds, labels).metrics["lwlrap"])
    assert "lwlrap" in output


def test_evaluate_windows_against_raven_boxes(tmp_path):
    table = tmp_path / "rec1.Table.1.selections.txt"
    table.write_text(
        "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\tHigh Freq (Hz)\tSpecies\n"
        "1\tSpectrogram 1\t1\t1.2\t1.8\t500\t900\tfrog\n"
        "2\tSpectrogram 1\t1\t3.1\t3.9\t2000\t4000\tbird\n"
    )
    windows = pd.DataFrame({
        "recording": ["rec1.wav"] * 4, "t0_s": [0.0, 1.0, 2.0, 3.0], "t1_s": [1.0, 2.0, 3.0, 4.0],
        "bird": [0.1, 0.2, 0.1, 0.9], "frog": [0.2, 0.8, 0.3, 0.1],
    })
    windows.to_parquet(tmp_path / "windows.parquet")
    result = evaluate_files(tmp_path / "windows.parquet", table)
    assert result.metrics["map_macro"] == pytest.approx(1.0)
    assert result.metrics["n_samples"] == 4


def test_bad_recipe_is_one_line_with_exit_code_2(tmp_path, monkeypatch, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("data: {labels: x.csv}\ntrainer: {epoch: 3}\n")
    monkeypatch.setattr("sys.argv", ["wildtag", "train", str(recipe)])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "did you mean 'epochs'" in err and "Traceback" not in err


def test_list_shows_registered_parts():
    code, output = run("list", "head")
    assert code == 0
    assert {"attention", "concat_pool", "linear"} <= set(output.split())
    code, output = run("list", "mixer")
    assert set(output.split()) == {"mixover", "mixup", "or_mixup"}
    code, output = run("list", "backbone", "resnet1*")
    assert "resnet18" in output.split() and "tiny_cnn" not in output.split()


def test_recording_ids_with_dots_still_match():
    from wildtag.labels import RecordingIds

    ids = RecordingIds(["audio/XC1-2013.01.08-A.flac"])
    assert ids.resolve("XC1-2013.01.08-A") == ids.resolve("XC1-2013.01.08-A.flac") == "audio/XC1-2013.01.08-A.flac"
    assert ids.resolve("XC1-2013.01") is None  # only an audio suffix may be left out


# --- recipes --------------------------------------------------------------------------------------------------

def test_recipes_lists_every_packaged_recipe_with_its_first_comment_line():
    from wildtag.recipebook import recipes_dir

    code, output = run("recipes")
    assert code == 0, output
    listed = {line.split()[0]: line.split(None, 1)[1] for line in output.splitlines()}
    files = sorted(recipes_dir().glob("*.yaml"))
    assert sorted(listed) == [f.stem for f in files] and "birdclef21" in listed
    first_line = (recipes_dir() / "birdclef21.yaml").read_text().splitlines()[0].lstrip("# ")
    assert listed["birdclef21"] == first_line


def test_recipes_show_prints_the_recipe_and_copy_writes_an_editable_one(tmp_path):
    from wildtag.config import load_config
    from wildtag.recipebook import recipe_path

    code, output = run("recipes", "show", "insectset32")
    assert code == 0 and output == recipe_path("insectset32").read_text()
    code, output = run("recipes", "copy", "insectset32", str(tmp_path))
    copy = tmp_path / "insectset32.yaml"
    assert code == 0 and copy.read_text() == recipe_path("insectset32").read_text()
    copy.write_text(copy.read_text().replace("name: insectset32", "name: mine"))
    assert load_config(copy, ["data.labels=x.csv"]).name == "mine"
    with pytest.raises(FileExistsError, match="already exists"):
        runner.invoke(cli.app, ["recipes", "copy", "insectset32", str(copy)], catch_exceptions=False)
    code, _ = run("recipes", "copy", "insectset32", str(copy), "--overwrite")
    assert code == 0 and "name: insectset32" in copy.read_text()


def test_a_recipe_is_found_by_name_and_an_existing_path_wins(tmp_path, monkeypatch):
    from wildtag.config import ConfigError, load_config

    assert load_config("birdclef21.yaml", ["data.labels=x.csv"]).name == "birdclef21"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "insectset32").write_text("name: local\ndata: {labels: x.csv}\n")
    assert load_config("insectset32").name == "local"
    with pytest.raises(ConfigError, match=r"birdclf21: no such recipe .*did you mean 'birdclef21'"):
        load_config("birdclf21")


def main_error(monkeypatch, capsys, *argv: str) -> tuple[int, str]:
    """Run the console script in-process; its exit code and stderr."""
    monkeypatch.setattr("sys.argv", ["wildtag", *argv])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    return exit_.value.code, capsys.readouterr().err


# --- train ----------------------------------------------------------------------------------------------------

def test_a_misspelt_argument_fails_before_any_data_is_touched(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, err = main_error(monkeypatch, capsys, "train", "demo", "--set", "data.labels=missing.csv",
                           "--set", "sampler.train.samples_per_epok=8", "--out", str(tmp_path / "run"))
    assert code == 2 and "did you mean 'samples_per_epoch'" in err and "missing.csv" not in err
    assert not (tmp_path / "run").exists() and not (tmp_path / "runs").exists()


class FakeFit:
    """Stands in for training.fit.fit: records what the CLI passes."""

    def __init__(self, run_dir):
        self.run_dir, self.calls = run_dir, []

    def __call__(self, cfg, out=None, *, resume=False, show_progress=True, argv=None, overrides=None,
                 overwrite=False):
        self.calls.append({"cfg": cfg, "out": out, "resume": resume, "overrides": overrides,
                           "overwrite": overwrite})
        (self.run_dir / "metrics.json").write_text(json.dumps({"overall": {"accuracy": 0.5}}))
        return self.run_dir


def test_resume_needs_no_recipe_and_passes_set_through(tmp_path, monkeypatch):
    fake = FakeFit(tmp_path)
    monkeypatch.setattr("wildtag.training.fit.fit", fake)
    code, output = run("train", "--resume", str(tmp_path), "--set", "trainer.epochs=20")
    assert code == 0, output
    assert fake.calls == [{"cfg": None, "out": tmp_path, "resume": True, "overrides": ["trainer.epochs=20"],
                           "overwrite": False}]
    code, output = run("train", "demo", "--set", "data.labels=x.csv", "--out", str(tmp_path), "--overwrite")
    assert code == 0, output
    assert fake.calls[-1]["overwrite"] is True and fake.calls[-1]["cfg"].name == "demo"
    assert fake.calls[-1]["overrides"] is None  # --set on a new run goes into the config, not to fit


def test_train_refuses_contradictory_arguments(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("wildtag.training.fit.fit", FakeFit(tmp_path))
    code, err = main_error(monkeypatch, capsys, "train", "demo", "--resume", str(tmp_path))
    assert code == 2 and "drop the recipe argument 'demo'" in err
    code, err = main_error(monkeypatch, capsys, "train")
    assert code == 2 and "train needs a recipe" in err


def test_an_option_fit_lacks_is_an_error_not_ignored(tmp_path, monkeypatch, capsys):
    def old_fit(cfg, out=None, *, resume=False, show_progress=True, argv=None):
        raise AssertionError("must not run")

    monkeypatch.setattr("wildtag.training.fit.fit", old_fit)
    code, err = main_error(monkeypatch, capsys, "train", "--resume", str(tmp_path), "--set", "trainer.epochs=2")
    assert code == 2 and "--set with --resume is not supported" in err


# --- predict --------------------------------------------------------------------------------------------------

def test_predict_refuses_missing_paths_and_top_k_without_topk_mean(tmp_path, monkeypatch, capsys):
    code, err = main_error(monkeypatch, capsys, "predict", str(tmp_path), str(tmp_path / "nowhere.wav"))
    assert code == 2 and f"no such file or folder: {tmp_path / 'nowhere.wav'}" in err
    code, err = main_error(monkeypatch, capsys, "predict", str(tmp_path), str(tmp_path), "--top-k", "5")
    assert code == 2 and "--top-k 5 only applies to --aggregate topk_mean" in err
    code, err = main_error(monkeypatch, capsys, "predict", str(tmp_path), str(tmp_path), "--top-k", "5",
                           "--aggregate", "max")
    assert code == 2 and "(got --aggregate max)" in err
    code, err = main_error(monkeypatch, capsys, "predict", str(tmp_path), str(tmp_path), "--hop-s", "-1")
    assert code == 2 and "--hop-s must be a positive number of seconds, got -1.0" in err
    result = runner.invoke(cli.app, ["predict", str(tmp_path), str(tmp_path), "--batch-size", "0"])
    assert result.exit_code == 2 and "--batch-size" in result.output


def test_predict_exits_non_zero_when_nothing_was_scored(tmp_path, monkeypatch, capsys):
    from wildtag.inference.predict import PredictionSummary

    seen = {}

    def no_recordings(run, paths, out, **kw):
        seen.update(kw)
        return PredictionSummary(Path(out), n_recordings=0, n_scored=0, n_skipped=0, n_failed=2, n_problems=0,
                                 n_missing=0, failed_by_reason={"cannot decode": 2}, n_windows=0, audio_s=0.0,
                                 wall_s=1.0)

    monkeypatch.setattr("wildtag.inference.predict.predict", no_recordings)
    code, err = main_error(monkeypatch, capsys, "predict", str(tmp_path), str(tmp_path), "--out",
                           str(tmp_path / "p"), "--aggregate", "topk_mean", "--top-k", "4")
    assert code == 1 and "nothing could be scored" in err and seen["top_k"] == 4


# --- errors ---------------------------------------------------------------------------------------------------

def test_error_lines_are_not_wrapped_in_a_narrow_terminal(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "40")
    deep = tmp_path.joinpath(*[f"folder_with_a_long_name_{i}" for i in range(8)], "recipe.yaml")
    code, err = main_error(monkeypatch, capsys, "train", str(deep))
    assert code == 2
    assert f"error: {deep}: no such recipe file" in err.splitlines()[0]


def test_an_internal_bug_shows_its_traceback_and_asks_for_a_report(monkeypatch, capsys):
    def broken(kind, pattern="*"):
        raise ValueError("an internal invariant broke")

    monkeypatch.setattr("wildtag.parts.list_parts", broken)
    monkeypatch.setattr("sys.argv", ["wildtag", "list", "head"])
    with pytest.raises(ValueError, match="internal invariant"):
        cli.main()
    assert "this is a bug" in capsys.readouterr().err


def test_user_errors_do_not_include_bare_value_error():
    from wildtag.errors import USER_ERRORS

    assert ValueError not in USER_ERRORS and not issubclass(ValueError, USER_ERRORS)


def test_help_and_argument_errors_import_no_torch():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import wildtag.cli as cli\n"
        "for argv in (['--help'], ['train', '--help'], ['predict', 'run', 'x.wav', '--top-k', '2'], ['train']):\n"
        "    try:\n"
        "        cli.app(argv, standalone_mode=False)\n"
        "    except Exception as error:\n"
        "        from wildtag.errors import USER_ERRORS\n"
        "        assert isinstance(error, USER_ERRORS), error\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(sorted(m for m in ('torch', 'lightning', 'timm') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_usage_errors_are_plain_lines_too():
    long_name = "recipes_" + "x" * 150
    result = runner.invoke(cli.app, [long_name], env={"COLUMNS": "40"})
    assert result.exit_code == 2
    assert f"Error: No such command '{long_name}'." in result.output.splitlines()


# --- user errors: one line naming the file or key, exit 2, no traceback ----------------------------------------

@pytest.mark.parametrize("weights", ["garbage", "other_architecture"])
def test_a_bad_pretrained_weights_file_is_one_line_naming_it(tmp_path, monkeypatch, capsys, tone_labels,
                                                             make_tiny_config, weights):
    import torch

    make_tiny_config(tmp_path, tone_labels)  # writes tmp_path / "tiny.yaml"
    path = tmp_path / f"{weights}.pt"
    if weights == "garbage":
        path.write_bytes(b"these are not weights")
    else:
        torch.save({"blocks.0.conv1.weight": torch.zeros(3, 1, 5, 5)}, path)
    code, err = main_error(monkeypatch, capsys, "train", str(tmp_path / "tiny.yaml"), "--set",
                           f"model.backbone.pretrained_path={path}", "--out", str(tmp_path / "run"))
    assert code == 2, err
    last = err.strip().splitlines()[-1]  # after the class table training prints
    assert "Traceback" not in err and "this is a bug" not in err and err.count("error: ") == 1
    assert last.startswith(f"error: {path}: ")
    assert ("cannot read pretrained weights" if weights == "garbage" else "do not fit the backbone") in last


def test_a_bad_sampler_value_is_one_line_before_any_data_is_read(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, err = main_error(monkeypatch, capsys, "train", "demo", "--set", "data.labels=missing.csv",
                           "--set", "sampler.train.name=event_window", "--set", "sampler.train.unknown=maybe",
                           "--out", str(tmp_path / "run"))
    assert code == 2 and "Traceback" not in err and "missing.csv" not in err
    assert "sampler.train: unknown must be 'nan' or 'zero', got 'maybe'" in err


@pytest.mark.parametrize(("cell", "shown"), [("", "is empty"), ("x", "is 'x'"), ("inf", "is inf")])
def test_a_prediction_score_that_is_not_a_number_is_one_line_naming_it(tmp_path, monkeypatch, capsys, cell, shown):
    labels = tmp_path / "labels.csv"
    labels.write_text("fname,labels\na.wav,bird\nb.wav,frog\n")
    preds = tmp_path / "preds.csv"
    preds.write_text(f"recording,bird,frog\na.wav,0.9,{cell}\nb.wav,0.1,0.8\n")
    code, err = main_error(monkeypatch, capsys, "evaluate", str(preds), str(labels))
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert err.startswith(f"error: {preds}: score 'frog' of recording 'a.wav' {shown}, not a finite number")


@pytest.mark.parametrize(("device", "says"), [("gpu", "is not a torch device"), ("cuda:99", "CUDA device")])
def test_a_device_this_machine_lacks_is_one_line(tmp_path, monkeypatch, capsys, device, says):
    from wildtag.models.card import InferenceDefaults, ModelCard, Provenance
    from wildtag.testing import write_model_run, write_tone

    card = ModelCard(sample_rate=16000, window_s=1.0, class_names=("a", "b"),
                     frontend={"name": "logmel", "n_fft": 512, "hop_length": 256, "n_mels": 32},
                     backbone={"name": "tiny_cnn"}, head={"name": "linear"},
                     inference=InferenceDefaults(window_s=1.0, hop_s=0.5, aggregate={"name": "max"}),
                     provenance=Provenance.now())  # fmt: skip
    run = write_model_run(tmp_path / "run", card)
    write_tone(tmp_path / "audio" / "t.wav", sample_rate=16000, duration_s=2.0)
    code, err = main_error(monkeypatch, capsys, "predict", str(run), str(tmp_path / "audio"), "--out",
                           str(tmp_path / "out"), "--device", device, "--quiet")
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert err.startswith(f"error: device {device!r}") and says in err
