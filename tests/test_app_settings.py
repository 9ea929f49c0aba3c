"""Corrupt settings are set aside, the app starts with defaults and says so (app/settings_store.py).

Every test uses an explicit INI path under tmp_path, never the user's real settings.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

from app_fixtures import active_timers  # noqa: E402  (sets QT_QPA_PLATFORM)

from PySide6.QtCore import QSettings  # noqa: E402

pytestmark = pytest.mark.qt_log_ignore("does not support propagateSizeHints", "does not support raise")


def _open(qtbot, path):
    from app.launch import open_window
    win = open_window(None, path, size="1000x700")
    qtbot.addWidget(win)
    return win


def _close(win):
    win.close()
    win.jobs.pool.waitForDone(30000)
    assert not active_timers(win)


def _aside(folder, name):
    return [p for p in os.listdir(folder) if p.startswith(f"{name}.corrupt-")]


@pytest.mark.parametrize("content", [
    np.random.default_rng(7).bytes(512),  # seeded: the case is the same on every run
    b"d=\xb7\xa7\x82\x9c\x00\xf2\x11&\x9fl\xe1",  # Qt parses this as a well-formed key 'd'
    b"\x00\xff[[[ not an ini file\n=\n",
    b"[window]\ngeometry=@ByteArray(not a geometry)\n",
    b"[window]\ngeometry=plain text\n",
    b"[sim]\nspeed=fast\n",
    b"[sim]\nspeed=1e300\n",
    b'[sim]\nscenario="{\\"name\\": \\"x\\", \\"title\\": \\"t\\", \\"architecture\\": \\"no-such-chip\\"}"\n',
    b'[sim]\nscenario="{\\"name\\": \\"x\\", \\"title\\": \\"t\\", \\"workload\\": \\"juggling\\"}"\n',
    b"[sim]\nscenario={not json\n",
], ids=["random-bytes", "key-then-binary", "garbage", "bad-geometry", "geometry-type", "speed-type", "speed-range",
        "unknown-architecture", "unknown-workload", "scenario-not-json"])
def test_corrupt_settings_are_set_aside_and_defaults_used(qtbot, tmp_path, capsys, content):
    path = tmp_path / "meshscope.ini"
    path.write_bytes(content)
    win = _open(qtbot, path)
    try:
        aside = _aside(tmp_path, "meshscope.ini")
        assert len(aside) == 1, os.listdir(tmp_path)
        assert (tmp_path / aside[0]).read_bytes() == content  # nothing lost: the old file is kept
        assert win.sim.scenario.name == "default"
        assert win.controller.speed == 1.0
        msg = win.statusBar().currentMessage()
        assert "settings were unreadable and were set aside" in msg and aside[0] in msg
        assert "starting with defaults" in msg
        assert "set aside" in capsys.readouterr().err
    finally:
        _close(win)
    # The defaults are saved to a fresh file on close, which opens cleanly next time.
    win2 = _open(qtbot, path)
    try:
        assert "set aside" not in win2.statusBar().currentMessage()
        assert len(_aside(tmp_path, "meshscope.ini")) == 1
    finally:
        _close(win2)


def test_good_settings_round_trip_and_are_kept(qtbot, tmp_path):
    path = tmp_path / "meshscope.ini"
    win = _open(qtbot, path)
    win.controller.set_speed(5.0)  # a speed on the 1-2-5 ladder
    _close(win)
    assert QSettings(str(path), QSettings.IniFormat).value("window/geometry") is not None
    win2 = _open(qtbot, path)
    try:
        assert _aside(tmp_path, "meshscope.ini") == []
        assert win2.controller.speed == 5.0
        assert "set aside" not in win2.statusBar().currentMessage()
    finally:
        _close(win2)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads any file")
def test_unreadable_settings_file_is_set_aside(qtbot, tmp_path):
    path = tmp_path / "meshscope.ini"
    path.write_text("[sim]\nspeed=2\n")
    path.chmod(0)
    win = _open(qtbot, path)
    try:
        assert len(_aside(tmp_path, "meshscope.ini")) == 1
        assert win.controller.speed == 1.0
    finally:
        _close(win)


def test_bad_file_that_cannot_be_moved_is_left_alone(qtbot, tmp_path, monkeypatch):
    from app.ui import settings_store

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(settings_store.os, "replace", refuse)
    path = tmp_path / "meshscope.ini"
    path.write_bytes(b"\x00\xff garbage")
    win = _open(qtbot, path)
    try:
        assert win.settings is None
        assert "could not be set aside" in win.statusBar().currentMessage()
        assert win.controller.speed == 1.0
    finally:
        _close(win)
    assert path.read_bytes() == b"\x00\xff garbage"  # not overwritten on close


def test_cli_settings_option(monkeypatch):
    from app import __main__ as cli
    from app import launch as headless
    seen = {}
    monkeypatch.setattr(headless, "run_window",
                        lambda scene, settings=None, size=None: seen.update(scene=scene, s=settings) or 0)
    assert cli.main(["--settings", "portable.ini"]) == 0
    assert seen == {"scene": None, "s": "portable.ini"}
