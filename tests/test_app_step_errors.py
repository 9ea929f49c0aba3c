"""An exception inside a simulation step pauses the run and is shown, with its traceback one
click away; the window and the user's unsaved scene survive, and Space resumes after the fault."""
from __future__ import annotations

import pytest

from app_fixtures import run_frames, window  # noqa: E402,F401

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from app.ui.controller import PLAYING, STOPPED  # noqa: E402

pytestmark = pytest.mark.qt_log_ignore("does not support propagateSizeHints", "does not support raise")


class InjectedFault(RuntimeError):
    pass


def _faulty_step(*args, **kwargs):
    raise InjectedFault("link table corrupted (injected by the test)")


def _inject(monkeypatch, engine) -> None:
    """Make every way the controller moves the engine (step, and bounded advance if present) fail."""
    monkeypatch.setattr(engine, "step", _faulty_step)
    if hasattr(engine, "advance"):
        monkeypatch.setattr(engine, "advance", _faulty_step)


def test_step_exception_pauses_shows_copies_and_resumes(window, monkeypatch, qtbot):
    c = window.controller
    QTest.keyClick(window, Qt.Key_Space)
    assert c.state == PLAYING and c.timer.isActive()
    run_frames(window, 20)
    scenario, sim, t_before = window.sim.scenario, window.sim, c.engine.now_s
    assert t_before > 0

    _inject(monkeypatch, c.engine)
    qtbot.waitUntil(lambda: c.state == STOPPED, timeout=3000)  # the app's own timer hits the fault

    # Paused, not dead: the timer object stays, the window and its scene are untouched.
    assert c.state == STOPPED and not c.timer.isActive()
    assert window.isVisible()
    assert window.sim is sim and window.sim.scenario == scenario
    assert c.engine.now_s == t_before
    bar = window.message_bar
    assert bar.isVisible()
    assert "InjectedFault" in bar.message and "link table corrupted" in bar.message
    assert bar.copy_button.isVisible() and bar.copy_button.text().lower() == "copy details"

    QGuiApplication.clipboard().clear()
    bar.copy_button.click()
    copied = QGuiApplication.clipboard().text()
    assert "Traceback (most recent call last)" in copied
    assert "_faulty_step" in copied and "InjectedFault: link table corrupted" in copied

    monkeypatch.undo()  # the fault is gone
    QTest.keyClick(window, Qt.Key_Space)
    assert c.state == PLAYING and c.timer.isActive()
    run_frames(window, 10)
    assert c.engine.now_s > t_before
    assert window.sim is sim


def test_step_exception_during_single_step(window, monkeypatch):
    c = window.controller
    t0 = c.engine.now_s
    _inject(monkeypatch, c.engine)
    QTest.keyClick(window, Qt.Key_Right)
    assert c.state == STOPPED and not c.timer.isActive()
    assert "InjectedFault" in window.message_bar.message
    monkeypatch.undo()
    QTest.keyClick(window, Qt.Key_Right)
    assert c.engine.now_s > t0
