"""training/engine/files.py: atomic writes end with the mode open() gives; a failed write leaves the old file."""
import os
import stat

import pytest

from training.engine.files import atomic_write, save_text


@pytest.fixture
def umask():
    """Set a umask for one test, restoring the previous one after it."""
    previous = os.umask(0o022)
    yield os.umask
    os.umask(previous)


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o002, 0o077])
def test_a_new_file_gets_the_mode_open_gives_under_the_umask(tmp_path, umask, mask):
    umask(mask)
    with open(tmp_path / "plain.txt", "w") as f:
        f.write("x")
    save_text("x", tmp_path / "atomic.txt")
    atomic_write(tmp_path / "sub" / "atomic.bin", lambda f: f.write(b"\0\1"))
    assert _mode(tmp_path / "atomic.txt") == _mode(tmp_path / "sub" / "atomic.bin") == _mode(tmp_path / "plain.txt")
    assert (tmp_path / "atomic.txt").read_text() == "x" and (tmp_path / "sub" / "atomic.bin").read_bytes() == b"\0\1"


def test_an_existing_file_keeps_its_mode_as_with_open(tmp_path, umask):
    umask(0o022)
    path = tmp_path / "results.csv"
    save_text("old", path)
    os.chmod(path, 0o640)
    save_text("new", path)
    assert _mode(path) == 0o640 and path.read_text() == "new"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "config.json"
    save_text("old", path)

    def fail(f):
        f.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(path, fail)
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["config.json"]
