import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from wildtag.audio import AUDIO_EXTENSIONS, scan_audio
from wildtag.audio.scan import ScanProblem
from wildtag.testing import write_tone


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


def test_missing_paths_and_named_non_audio_files_are_problems_not_exceptions(tree):
    result = scan_audio([tree / "nowhere", tree / "notes.txt", tree / "a.wav"])
    assert result.files == [tree / "a.wav"]
    assert result.problems == [
        ScanProblem(str(tree / "nowhere"), "no such file or folder"),
        ScanProblem(str(tree / "notes.txt"), "not an audio file (expected one of .wav, .flac, .ogg, .mp3)"),
    ]


def test_symlink_loops_anywhere_are_reported_and_every_other_file_is_found(tree):
    (tree / "night" / "deep" / "up").symlink_to("../..")  # a folder link back to the input folder
    (tree / "night" / "self.wav").symlink_to("self.wav")  # a file link to itself
    (tree / "ring_a").symlink_to("ring_b")  # two links pointing at each other
    (tree / "ring_b").symlink_to("ring_a")
    (tree / "gone.flac").symlink_to("nowhere.flac")
    result = scan_audio([tree])
    assert [p.relative_to(tree).as_posix() for p in result] == ["B.FLAC", "a.wav", "night/c.Ogg",
                                                                 "night/deep/d.mp3"]
    reasons = {Path(p.path).relative_to(tree).as_posix(): p.reason for p in result.problems}
    assert set(reasons) == {"night/deep/up", "night/self.wav", "ring_a", "ring_b", "gone.flac"}
    assert reasons["night/deep/up"].startswith(f"symlink loop: leads back to {tree.resolve()}")
    assert all(reasons[k].startswith("symlink loop") for k in ("night/self.wav", "ring_a", "ring_b"))
    assert reasons["gone.flac"] == "dangling symlink: its target nowhere.flac does not exist"


def test_a_symlinked_folder_elsewhere_is_followed_once(tree, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (elsewhere / "far.wav").write_bytes(b"x")
    (tree / "linked").symlink_to(elsewhere)
    (tree / "linked_again").symlink_to(elsewhere)
    result = scan_audio([tree])
    assert [p.name for p in result].count("far.wav") == 1 and not result.problems


def test_a_folder_that_cannot_be_listed_is_reported(tree, monkeypatch):
    """Simulated with a patched os.scandir (the tests run as root, which can list anything); the real
    permission case, as an unprivileged user, is in test_unreadable_paths_as_an_unprivileged_user."""
    real_scandir = os.scandir

    def scandir(path):
        if Path(path).name == "night":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    result = scan_audio([tree])
    assert [p.name for p in result] == ["B.FLAC", "a.wav"]
    assert result.problems == [ScanProblem(str(tree / "night"), "cannot list folder (permission denied)")]


UNPRIVILEGED = 65534  # "nobody"


def run_unprivileged(code: str) -> dict:
    """Run ``code`` (which imports what it needs, then reads) as an unprivileged user; its JSON output.

    As root the child drops to ``nobody`` after its imports (the interpreter may live where nobody cannot
    read); as another user it simply runs, and chmod 000 already locks that user out."""
    drop = f"os.setgid({UNPRIVILEGED}); os.setuid({UNPRIVILEGED})" if os.geteuid() == 0 else "pass"
    script = code.replace("DROP_PRIVILEGES", drop)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def shared_tree():
    """A folder an unprivileged user can reach (pytest's own tmp folder is private to root)."""
    root = Path(tempfile.mkdtemp(prefix="wildtag-scan-"))
    root.chmod(0o755)
    yield root
    for folder, _, _ in os.walk(root):
        os.chmod(folder, 0o755)
    shutil.rmtree(root)


@pytest.mark.skipif(not hasattr(os, "setuid"), reason="needs POSIX users")
def test_unreadable_paths_as_an_unprivileged_user(shared_tree):
    write_tone(shared_tree / "ok.wav", sample_rate=8000, duration_s=0.5)
    (shared_tree / "locked").mkdir()
    write_tone(shared_tree / "locked" / "hidden_inside.wav", sample_rate=8000, duration_s=0.5)
    write_tone(shared_tree / "private.wav", sample_rate=8000, duration_s=0.5)
    (shared_tree / "locked").chmod(0)
    (shared_tree / "private.wav").chmod(0)
    out = run_unprivileged(
        "import json, os\n"
        "from wildtag.audio import AudioError, load, scan_audio\n"
        "DROP_PRIVILEGES\n"
        f"result = scan_audio([{str(shared_tree)!r}])\n"
        "reasons = {}\n"
        "for path in result:\n"
        "    try:\n"
        "        load(path)\n"
        "    except AudioError as error:\n"
        "        reasons[os.path.basename(path)] = error.reason\n"
        "print(json.dumps({'files': [os.path.basename(p) for p in result], 'reasons': reasons,\n"
        "                  'problems': [[p.path, p.reason] for p in result.problems]}))\n"
    )
    assert out["files"] == ["ok.wav", "private.wav"]
    assert out["problems"] == [[str(shared_tree / "locked"), "cannot list folder (permission denied)"]]
    assert out["reasons"] == {"private.wav": "unreadable: permission denied (the audio itself may be fine)"}
