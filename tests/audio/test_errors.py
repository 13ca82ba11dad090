import pickle

from wildtag.audio import AudioError


def test_message_starts_with_the_path_and_keeps_the_parts():
    e = AudioError("site1/a.wav", "file is empty (0 bytes)")
    assert str(e) == "site1/a.wav: file is empty (0 bytes)"
    assert (e.path, e.reason) == ("site1/a.wav", "file is empty (0 bytes)")


def test_survives_pickling_as_between_dataloader_workers():
    e = pickle.loads(pickle.dumps(AudioError("a.wav", "truncated")))
    assert isinstance(e, AudioError)
    assert (e.path, e.reason, str(e)) == ("a.wav", "truncated", "a.wav: truncated")
