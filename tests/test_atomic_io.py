"""Saving never leaves a half-written file over a good one."""
import os

import pytest

from sim_core.atomic_io import write_atomic, write_atomic_with


def test_write_replaces_the_file(tmp_path):
    p = tmp_path / "scene.toml"
    p.write_text("old")
    write_atomic(p, "new contents")
    assert p.read_text() == "new contents"
    assert [f.name for f in tmp_path.iterdir()] == ["scene.toml"]


def test_a_write_that_fails_midway_keeps_the_old_file(tmp_path, monkeypatch):
    p = tmp_path / "arch.toml"
    p.write_text("good")

    def full_disk(fd):  # half the data reached the disk, then it filled up
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space"):
        write_atomic(p, "x" * 10_000)
    assert p.read_text() == "good"
    assert [f.name for f in tmp_path.iterdir()] == ["arch.toml"]


def test_writer_that_raises_leaves_nothing_behind(tmp_path):
    target = tmp_path / "out.gif"

    def writer(tmp):
        with open(tmp, "wb") as fh:
            fh.write(b"GIF89a partial")
        raise RuntimeError("cancelled")

    with pytest.raises(RuntimeError):
        write_atomic_with(target, writer)
    assert list(tmp_path.iterdir()) == []
    write_atomic_with(target, lambda tmp: open(tmp, "wb").write(b"GIF89a whole"))
    assert target.read_bytes() == b"GIF89a whole"


def test_new_files_get_the_usual_mode_and_replaced_files_keep_theirs(tmp_path):
    fresh = write_atomic(tmp_path / "new.csv", "a,b\n")
    umask = os.umask(0)
    os.umask(umask)
    assert fresh.stat().st_mode & 0o777 == 0o666 & ~umask
    kept = tmp_path / "script.toml"
    kept.write_text("x")
    kept.chmod(0o640)
    write_atomic(kept, "y")
    assert kept.stat().st_mode & 0o777 == 0o640


def test_writing_never_touches_the_process_umask(tmp_path, monkeypatch):
    def forbidden(*_):
        raise AssertionError("os.umask is process-wide: changing it races with other threads")
    monkeypatch.setattr(os, "umask", forbidden)
    write_atomic(tmp_path / "a.txt", "x")
    write_atomic(tmp_path / "a.txt", "y")
    assert (tmp_path / "a.txt").read_text() == "y"
