from __future__ import annotations

import pytest

from wildtag.labels import LabelError, read_class_folders


def test_one_clip_per_audio_file_labelled_by_its_top_folder(tmp_path):
    for rel in (
        "wren/a.wav",
        "wren/b.FLAC",
        "robin/site2/c.ogg",
        "robin/notes.txt",
        ".trash/d.wav",
        "robin/.e.wav",
    ):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    clips = read_class_folders(tmp_path)
    assert clips["recording_id"].tolist() == ["robin/site2/c.ogg", "wren/a.wav", "wren/b.FLAC"]
    assert clips["labels"].tolist() == [["robin"], ["wren"], ["wren"]]
    assert clips["source"].tolist()[0] == str(tmp_path / "robin" / "site2" / "c.ogg")
    only_wav = read_class_folders(tmp_path, extensions=("wav",))
    assert only_wav["recording_id"].tolist() == ["wren/a.wav"]


def test_audio_outside_a_class_folder_or_no_audio_is_an_error(tmp_path):
    (tmp_path / "wren").mkdir()
    with pytest.raises(LabelError, match="no audio files"):
        read_class_folders(tmp_path)
    (tmp_path / "loose.wav").write_bytes(b"")
    with pytest.raises(LabelError, match="outside any class folder") as caught:
        read_class_folders(tmp_path)
    assert caught.value.path == str(tmp_path / "loose.wav")
    with pytest.raises(LabelError, match="not a folder"):
        read_class_folders(tmp_path / "nowhere")
