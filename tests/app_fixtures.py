"""Fixtures for the app tests: a real MainWindow on the default scene, torn down cleanly."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QObject, QSettings, QThreadPool, QTimer  # noqa: E402


def active_timers(root: QObject) -> list[QTimer]:
    return [t for t in root.findChildren(QTimer) if t.isActive()]


@pytest.fixture
def window(qtbot, tmp_path):
    from app.windows.main_window import MainWindow
    from app.model.scenario import SCENARIOS, build_simulation
    from app.ui.theme import apply_theme
    from PySide6.QtWidgets import QApplication

    apply_theme(QApplication.instance(), dark=True)
    settings = QSettings(str(tmp_path / "meshscope.ini"), QSettings.IniFormat)
    win = MainWindow(build_simulation(SCENARIOS["default"]), settings, compare_on_start=False)
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    win.view.setFocus()
    yield win
    win.close()
    assert not active_timers(win), "a QTimer is still running after close"
    assert win.jobs.pool.activeThreadCount() == 0
    assert QThreadPool.globalInstance().activeThreadCount() == 0


def run_frames(win, n: int, wall_s: float = 1 / 60) -> None:
    """Advance the controller ``n`` frames deterministically (no timer needed)."""
    from PySide6.QtWidgets import QApplication
    for _ in range(n):
        win.controller.advance(wall_s, budget_s=1.0)
        QApplication.processEvents()
