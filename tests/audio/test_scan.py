import pytest

from wildtag.audio import AUDIO_EXTENSIONS, scan_audio


@pytest.fixture
def tree(tmp_path):
    names = [
        "a.wav",
        "B.FLAC",
        "notes.txt",
        "night/c.Ogg",
        "night/deep/d.mp3",
        "night/e.aiff",
        ".hidden/f.wav",
        "night/._c.wav",
        "night/.g.flac",
    ]
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    return tmp_path


def test_recursive_scan_finds_every_audio_extension_in_any_case_sorted(tree):
    found = scan_audio([tree])
    assert [p.relative_to(tree).as_posix() for p in found] == [
        "B.FLAC",
        "a.wav",
        "night/c.Ogg",
        "night/deep/d.mp3",
    ]
    assert AUDIO_EXTENSIONS == (".wav", ".flac", ".ogg", ".mp3")


def test_flat_scan_stays_in_the_folder(tree):
    assert [p.name for p in scan_audio([tree / "night"], recursive=False)] == ["c.Ogg"]


def test_files_and_folders_mix_and_duplicates_are_listed_once(tree):
    found = scan_audio([tree / "night", tree / "night/c.Ogg", str(tree / "a.wav")])
    assert [p.relative_to(tree).as_posix() for p in found] == ["a.wav", "night/c.Ogg", "night/deep/d.mp3"]


def test_a_single_path_is_not_iterated_as_characters(tree):
    assert len(scan_audio(str(tree))) == 4


def test_missing_paths_and_named_non_audio_files_are_errors(tree):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        scan_audio([tree / "nowhere"])
    with pytest.raises(ValueError, match="notes.txt: not an audio file"):
        scan_audio([tree / "notes.txt"])
