from pathlib import Path

from wildtag.audio import scan_audio
from wildtag.inference.inputs import recording_ids, root_prefixes
from wildtag.testing import write_tone


def _ids(inputs):
    return recording_ids(inputs, scan_audio(inputs).files)


def test_one_folder_names_files_relative_to_it(tmp_path):
    for site in ("site_a", "site_b"):
        write_tone(tmp_path / "survey" / site / "0600.wav")
    assert _ids([tmp_path / "survey"]) == ["site_a/0600.wav", "site_b/0600.wav"]


def test_two_folders_with_the_same_file_names_get_their_folder_as_prefix(tmp_path):
    for site in ("site_a", "site_b"):
        write_tone(tmp_path / "survey" / site / "0600.wav")
    inputs = [tmp_path / "survey" / "site_b", tmp_path / "survey" / "site_a"]
    assert sorted(_ids(inputs)) == ["site_a/0600.wav", "site_b/0600.wav"]


def test_folders_of_the_same_name_are_told_apart_by_their_parents(tmp_path):
    for year in ("2024", "2025"):
        write_tone(tmp_path / year / "site_a" / "0600.wav")
    ids = _ids([tmp_path / "2024" / "site_a", tmp_path / "2025" / "site_a"])
    assert ids == ["2024/site_a/0600.wav", "2025/site_a/0600.wav"]


def test_files_from_one_folder_need_no_prefix_and_a_missing_input_changes_nothing(tmp_path):
    a, b = write_tone(tmp_path / "in" / "a.wav"), write_tone(tmp_path / "in" / "b.wav")
    assert _ids([a, b]) == ["a.wav", "b.wav"]
    # ids come from the inputs as given: the same command gives the same ids, found or not
    with_missing = _ids([tmp_path / "in", tmp_path / "gone"])
    assert with_missing == ["in/a.wav", "in/b.wav"]


def test_a_folder_given_through_a_symlink_still_names_its_files(tmp_path):
    write_tone(tmp_path / "real" / "x" / "a.wav")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert _ids([tmp_path / "link"]) == ["x/a.wav"]


def test_prefixes_fall_back_to_the_input_number_when_names_cannot_tell_roots_apart():
    prefixes = root_prefixes([Path("/"), Path("/data")])
    assert prefixes == {Path("/"): "input-1", Path("/data"): "data"}
