import dataclasses
import json

import pytest

from wildtag.errors import ModelLoadError
from wildtag.losses import LOSSES, loss_activation
from wildtag.models.card import SCHEMA_VERSION, InferenceDefaults, ModelCard, Provenance, data_fingerprint


def _card(**changes) -> ModelCard:
    card = ModelCard(
        sample_rate=32000, window_s=5.0, class_names=("a", "b"),
        frontend={"name": "logmel", "n_mels": 64, "f_range": (50, 14000)},
        backbone={"name": "tiny_cnn"}, head={"name": "linear"},
        inference=InferenceDefaults(window_s=5.0, hop_s=2.5, aggregate={"name": "topk_mean", "k": 3},
                                    tiles={"widths_frames": [32, 64], "half_shift": True},
                                    class_boxes={"a": [500.0, 4000.0, 1.5], "b": [0.0, 8000.0, 5.0]}),
        provenance=Provenance.now(commit="abc", recipe="demo", data_fingerprint="f" * 64),
        activation="softmax", box_crop={"out_bins": 8, "out_frames": 8},
    )
    return card.replace(**changes)


def test_json_round_trip_is_lossless_and_the_fingerprint_stable(tmp_path):
    card = _card()
    again = ModelCard.from_json(card.to_json())
    assert again == card and again.fingerprint() == card.fingerprint()
    assert again.frontend["f_range"] == [50, 14000]  # tuples become lists once, at construction
    path = card.save(tmp_path / "model.json")
    assert ModelCard.load(path) == card
    assert json.loads(path.read_text())["schema"] == SCHEMA_VERSION
    assert card.num_classes == 2


def test_the_fingerprint_changes_with_any_field():
    card = _card()
    assert card.replace(class_names=("a", "c")).fingerprint() != card.fingerprint()
    hop = card.replace(inference=dataclasses.replace(card.inference, hop_s=1.0))
    assert hop.fingerprint() != card.fingerprint()


def test_the_card_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        _card().sample_rate = 16000


@pytest.mark.parametrize(("path", "key"), [((), "hop"), (("inference",), "hop"), (("provenance",), "licens")])
def test_unknown_keys_are_refused_naming_them(path, key):
    data = _card().to_dict()
    target = data
    for part in path:
        target = target[part]
    target[key] = 1
    with pytest.raises(ModelLoadError, match=f"unknown key.*'{key}'"):
        ModelCard.from_dict(data)


def test_a_newer_schema_and_a_bad_activation_are_refused(tmp_path):
    data = _card().to_dict() | {"schema": SCHEMA_VERSION + 1}
    with pytest.raises(ModelLoadError, match="schema version"):
        ModelCard.from_dict(data)
    with pytest.raises(ModelLoadError, match="activation"):
        _card(activation="relu")
    bad = tmp_path / "model.json"
    bad.write_text("{not json")
    with pytest.raises(ModelLoadError, match="model.json: not a readable model card"):
        ModelCard.load(bad)


def test_every_loss_declares_its_activation():
    assert loss_activation("cross_entropy") == "softmax"
    for name in LOSSES.list():
        assert loss_activation(name) in ("sigmoid", "softmax"), name
    assert {loss_activation(n) for n in LOSSES.list()} == {"sigmoid", "softmax"}


def test_data_fingerprint_depends_on_ids_and_labels_not_on_their_order():
    base = data_fingerprint(["x.wav", "y.wav"], "a,b\n")
    assert base == data_fingerprint(["y.wav", "x.wav"], "a,b\n")
    assert base != data_fingerprint(["x.wav", "z.wav"], "a,b\n")
    assert base != data_fingerprint(["x.wav", "y.wav"], "a,c\n")
