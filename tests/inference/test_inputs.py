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


def test_two_folders_with_the_same_names_are_scored_and_evaluated_each_against_its_own_truth(tiny_run, tmp_path):
    import pandas as pd

    from wildtag.evaluation import evaluate_files
    from wildtag.inference.predict import predict
    from wildtag.testing import write_tone_bursts

    survey = tmp_path / "survey"
    write_tone_bursts(survey / "site_a" / "x.wav", 16000, 3.0, [(0.2, 2.8, 800.0)], noise_level=0.05)  # low
    write_tone_bursts(survey / "site_b" / "x.wav", 16000, 3.0, [(0.2, 2.8, 3000.0)], noise_level=0.05)  # high
    predict(tiny_run, [survey / "site_a", survey / "site_b"], tmp_path / "out", threshold=0.5, num_workers=0,
            show_progress=False)
    recordings = pd.read_csv(tmp_path / "out" / "recordings.csv").set_index("recording")
    assert list(recordings.index) == ["site_a/x.wav", "site_b/x.wav"]
    assert recordings.loc["site_a/x.wav", "low"] > 0.5 > recordings.loc["site_b/x.wav", "low"]
    detections = pd.read_csv(tmp_path / "out" / "detections.csv")
    assert set(zip(detections["recording"], detections["class"], strict=True)) == {("site_a/x.wav", "low"),
                                                                                  ("site_b/x.wav", "high")}
    truth = tmp_path / "labels.csv"
    truth.write_text("file,label\nsite_a/x.wav,low\nsite_b/x.wav,high\n")
    result = evaluate_files(tmp_path / "out" / "recordings.csv", truth)
    assert result.n_unmatched == 0 and result.metrics["accuracy"] == 1.0
    swapped = tmp_path / "swapped.csv"  # had the ids collided, one folder would be scored against the other's truth
    swapped.write_text("file,label\nsite_a/x.wav,high\nsite_b/x.wav,low\n")
    assert evaluate_files(tmp_path / "out" / "recordings.csv", swapped).metrics["accuracy"] == 0.0
