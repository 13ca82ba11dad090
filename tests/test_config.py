from pathlib import Path

import pytest
import yaml

from wildtag.config import ConfigError, ExperimentConfig, apply_overrides, load_config

MINIMAL = {"name": "x", "data": {"labels": "labels.csv"}}


def write(tmp_path: Path, tree: dict) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


def test_overrides_are_parsed_as_yaml_values(tmp_path):
    cfg = load_config(write(tmp_path, MINIMAL), ["trainer.epochs=3", "model.head.dropout=0.5", "optimizer.lr=1e-4"])
    assert cfg.trainer.epochs == 3
    assert cfg.model.head.kwargs == {"dropout": 0.5}
    assert cfg.optimizer.lr == pytest.approx(1e-4)


def test_unknown_key_is_rejected_with_a_suggestion(tmp_path):
    with pytest.raises(ConfigError, match=r"trainer\.epoch: unknown key; did you mean 'epochs'"):
        load_config(write(tmp_path, {**MINIMAL, "trainer": {"epoch": 3}}))


def test_bad_value_names_the_key_and_the_file(tmp_path):
    path = write(tmp_path, {**MINIMAL, "trainer": {"batch_size": 0}})
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(path) in str(error.value) and "trainer.batch_size" in str(error.value)


def test_malformed_override_is_explained():
    with pytest.raises(ConfigError, match="expected key=value"):
        apply_overrides({}, ["trainer.epochs"])


def test_resolved_config_round_trips_through_yaml(tmp_path):
    cfg = load_config(write(tmp_path, MINIMAL), ["model.frontend.n_mels=96"])
    again = ExperimentConfig.model_validate(yaml.safe_load(cfg.to_yaml()))
    assert again == cfg
    assert again.model.frontend.spec() == {"name": "logmel", "n_mels": 96}


def test_missing_recipe_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no such recipe"):
        load_config(tmp_path / "nope.yaml")
