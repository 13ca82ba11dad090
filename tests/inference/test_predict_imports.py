"""Start-up of ``predict``: no timm, torchvision, Lightning, scipy.signal, librosa or numba on its path;
argument errors of ``predict`` import no torch at all."""

import subprocess
import sys

HEAVY = ("timm", "torchvision", "lightning", "scipy.signal", "librosa", "numba", "sklearn", "matplotlib")


def _modules_after(code: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", code + f"\nprint([m for m in {HEAVY + ('torch',)!r} "
                                                          "if m in sys.modules])"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return eval(done.stdout.strip().splitlines()[-1])  # a list literal printed by the child


def test_predict_with_a_tiny_cnn_imports_none_of_the_heavy_modules(untrained_run, tmp_path):
    from wildtag.testing import write_tone

    write_tone(tmp_path / "a.wav", sample_rate=16000, duration_s=2.0, freq_hz=800.0)
    code = ("import sys\nfrom wildtag.cli import main\n"
            f"sys.argv = ['wildtag', 'predict', {str(untrained_run)!r}, {str(tmp_path / 'a.wav')!r}, '--out', "
            f"{str(tmp_path / 'out')!r}, '--workers', '0', '--quiet', '--threshold', '0.5', '--format', 'raven']\n"
            "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n")
    assert _modules_after(code) == ["torch"]
    assert (tmp_path / "out" / "windows.parquet").exists()


def test_predict_argument_errors_import_no_torch(tmp_path):
    (tmp_path / "a.wav").write_bytes(b"")
    code = ("import sys\nimport wildtag.cli as cli\n"
            f"for extra in (['--engine', 'rya'], ['--address', 'auto'], ['--hop-s', '0'], ['--nms-iou', '0.3']):\n"
            f"    try:\n        cli.app(['predict', {str(tmp_path)!r}, {str(tmp_path / 'a.wav')!r}, *extra], "
            "standalone_mode=False)\n"
            "    except Exception as error:\n        from wildtag.errors import USER_ERRORS\n"
            "        assert isinstance(error, USER_ERRORS), error\n    else:\n        raise AssertionError(extra)\n")
    assert _modules_after(code) == []


def test_pandas_loads_after_the_first_window_is_scored(untrained_run, tmp_path):
    # pandas (~0.5 s) is only needed for the output tables, written when a recording is done.
    from wildtag.testing import write_tone

    write_tone(tmp_path / "a.wav", sample_rate=16000, duration_s=2.0, freq_hz=800.0)
    code = ("import sys\nimport wildtag.inference.scoring as scoring\nreal = scoring.ScoreFiles._scores\nseen = []\n"
            "def first(self, wave):\n    seen.append('pandas' in sys.modules)\n    return real(self, wave)\n"
            "scoring.ScoreFiles._scores = first\nfrom wildtag.cli import main\n"
            f"sys.argv = ['wildtag', 'predict', {str(untrained_run)!r}, {str(tmp_path / 'a.wav')!r}, '--out', "
            f"{str(tmp_path / 'out')!r}, '--workers', '0', '--quiet']\n"
            "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
            "print(seen[0], 'pandas' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-2:] == ["False", "True"]
