"""Nothing lost on save: a write that fails midway leaves the old file intact and no temp file.

Each user-facing save or export path is run over an existing file while its writer is made
to fail after writing part of the data (a full disk, a crashed encoder).
"""
from __future__ import annotations

import errno

import pytest

from app_fixtures import window  # noqa: E402,F401

from PySide6.QtGui import QPixmap  # noqa: E402

import sim_core.atomic_io as atomic_io  # noqa: E402

pytestmark = pytest.mark.qt_log_ignore("does not support propagateSizeHints", "does not support raise")

OLD = b"the user's previous file, which must survive\n"


class _DiskFull:
    """A file object that writes the first half of what it is given, then fails like a full disk."""

    def __init__(self, fh):
        self.fh = fh

    def write(self, data):
        self.fh.write(data[: max(1, len(data) // 2)])
        self.fh.flush()
        raise OSError(errno.ENOSPC, "No space left on device (test)")

    def __getattr__(self, name):
        return getattr(self.fh, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.fh.close()


@pytest.fixture
def disk_full_open(monkeypatch):
    """``write_atomic``'s writer gets a file that fails halfway through its write."""
    real_open = open
    monkeypatch.setattr(atomic_io, "open", lambda *a, **k: _DiskFull(real_open(*a, **k)), raising=False)


@pytest.fixture
def png_fails_midway(monkeypatch):
    """``QPixmap.save`` writes part of a PNG to its target, then the encoder fails."""
    def save(self, path, *args, **kwargs):
        with open(str(path), "wb") as fh:
            fh.write(b"\x89PNG\r\n\x1a\n partial")
        raise OSError(errno.EIO, "encoder crashed (test)")
    monkeypatch.setattr(QPixmap, "save", save)


def _assert_untouched(target):
    assert target.read_bytes() == OLD
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name], "a temp file was left behind"


@pytest.fixture
def target(tmp_path):
    def make(name):
        p = tmp_path / name
        p.write_bytes(OLD)
        return p
    return make


def test_csv_export(window, target, disk_full_open):
    from app.ui.export import export_csv
    path = target("metrics.csv")
    with pytest.raises(OSError):
        export_csv([window.controller.engine], path)
    _assert_untouched(path)


def test_architecture_save(window, target, disk_full_open):
    from app.ui.export import export_architecture
    path = target("arch.toml")
    with pytest.raises(OSError):
        export_architecture(window.sim.spec, path)
    _assert_untouched(path)


def test_scene_save(window, target, disk_full_open):
    from app.scenes.save import save_scene
    path = target("my-scene.toml")
    with pytest.raises(OSError):
        save_scene(window.sim, path)
    _assert_untouched(path)


def test_window_scene_save_reports_and_keeps_old_file(window, target, disk_full_open):
    path = target("my-scene.toml")
    assert window.save_scene_file(str(path)) is False
    assert "Could not save the scene" in window.message_bar.message
    _assert_untouched(path)


def test_png_export(window, target, png_fails_midway):
    from app.ui.export import export_png
    path = target("view.png")
    with pytest.raises(OSError):
        export_png(window.view, path)
    _assert_untouched(path)


def test_headless_screenshot_keeps_old_picture(qtbot, target, png_fails_midway, monkeypatch):
    from app import launch as headless
    path = target("shot.png")
    monkeypatch.setattr(headless, "make_app", lambda: __import__("PySide6.QtWidgets").QtWidgets.QApplication.instance())
    assert headless.run_screenshot("default", 2, str(path), "640x400") == 1
    _assert_untouched(path)


def test_video_export(target):
    import numpy as np

    from app.ui.export import export_video
    path = target("clip.gif")

    def frames():
        for _ in range(3):
            yield np.zeros((16, 16, 3), np.uint8)
        raise OSError(errno.ENOSPC, "No space left on device (test)")
    with pytest.raises(OSError):
        export_video(frames(), path, fps=10)
    _assert_untouched(path)


# The main window's own menu actions go through app.export (atomic) too.


def test_window_png_export(window, target, png_fails_midway):
    path = target("view.png")
    try:
        window.export_png(str(path))
    except OSError:
        pass
    _assert_untouched(path)


@pytest.mark.parametrize("action,name", [("act_export_csv", "metrics.csv"), ("act_save_architecture", "arch.toml")])
def test_window_menu_saves(window, target, monkeypatch, disk_full_open, action, name):
    from pathlib import Path

    from PySide6.QtWidgets import QFileDialog
    path = target(name)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    real_write_text = Path.write_text

    def write_text(self, data, *a, **k):  # the direct write fails the same way
        real_write_text(self, data[: len(data) // 2], *a, **k)
        raise OSError(errno.ENOSPC, "No space left on device (test)")
    monkeypatch.setattr(Path, "write_text", write_text)
    try:
        getattr(window.files, action)()
    except OSError:
        pass
    _assert_untouched(path)
