"""Scenes in the window (offscreen): every scene renders frames without Qt warnings; presenter
keys move beats; a bad scene is refused and the window stays; exports are valid and atomic."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.scenes.spec import shipped_scenes  # noqa: E402
from app_fixtures import active_timers  # noqa: E402

pytestmark = pytest.mark.qt_log_ignore("does not support propagateSizeHints", "does not support raise",
                                       "does not support setting the window", "fullscreen")
pytestmark = [pytestmark, pytest.mark.filterwarnings("ignore:Function.*setActiveWindow:DeprecationWarning")]


@pytest.fixture
def scene_window(qtbot):
    from app.windows.scene_window import SceneWindow
    from app.ui.theme import apply_theme
    apply_theme(QApplication.instance(), dark=True)
    made = []

    def make(scene="1"):
        win = SceneWindow(scene, fast=True)
        qtbot.addWidget(win)
        win.resize(960, 600)
        win.show()
        qtbot.waitExposed(win)
        win.activateWindow()
        win.raise_()
        QApplication.setActiveWindow(win)
        qtbot.waitUntil(win.isActiveWindow, timeout=3000)
        win.views[0].setFocus()
        made.append(win)
        return win
    yield make
    for win in made:
        win.close()
        assert not active_timers(win)
        assert win.jobs.pool.activeThreadCount() == 0


def frames(win, n):
    for _ in range(n):
        win.controller.advance(1 / 60, budget_s=1.0)
        QApplication.processEvents()


@pytest.mark.parametrize("name", list(shipped_scenes()))
def test_scene_opens_and_renders(scene_window, name):
    win = scene_window(name)
    win.jobs.pool.waitForDone(60000)
    QApplication.processEvents()
    frames(win, 10)
    assert win.controller.engine.now_s > 0
    assert win.study is not None and win.check.text().startswith("OK")
    # panes run on one clock
    for f in win.controller.followers:
        assert f.engine.now_s == win.controller.engine.now_s


def test_presenter_keys_move_beats_and_scenes(scene_window, qtbot):
    win = scene_window("1")
    QTest.keyClick(win, Qt.Key_F)
    assert win.presenting and not win.toolbar.isVisible()
    QTest.keyClick(win, Qt.Key_PageDown)
    assert win.run.beat == 1
    QTest.keyClick(win, Qt.Key_Right)
    assert win.run.beat == 2
    QTest.keyClick(win, Qt.Key_PageUp)
    assert win.run.beat == 1
    QTest.keyClick(win, Qt.Key_H)
    assert not win.overlay.isVisible()
    QTest.keyClick(win, Qt.Key_B)
    assert win.stack.currentIndex() == 1
    QTest.keyClick(win, Qt.Key_B)
    for _ in range(len(win.scene.beats) - 1):
        QTest.keyClick(win, Qt.Key_Right)
    assert win.scene.title == "Tens of thousands of cores" and win.run.beat == 0
    QTest.keyClick(win, Qt.Key_Escape)
    assert not win.presenting
    win.controller.pause()


def test_going_back_replays_the_same_numbers(scene_window):
    win = scene_window("4")
    win.goto_beat(2)
    frames(win, 5)
    a = win.controller.engine.snapshot()
    win.goto_beat(1)
    win.goto_beat(2)
    frames(win, 5)
    b = win.controller.engine.snapshot()
    assert a["now_s"] == b["now_s"]
    np.testing.assert_array_equal(a["link_busy_total_s"], b["link_busy_total_s"])


def test_bad_scene_refused_window_stays(scene_window, tmp_path):
    win = scene_window("1")
    bad = tmp_path / "bad.toml"
    bad.write_text((shipped_scenes()["1-leaving-the-chip"]).read_text().replace("nbytes = 4e6", "nbytez = 4e6"))
    assert not win.open_scene(str(bad))
    assert win.scene.title == "Leaving the chip"
    assert "panes[0].params.nbytez" in win.message_bar.message


def test_exports_png_gif_mp4_csv_and_cancel(scene_window, tmp_path):
    import imageio.v3 as iio
    from app.ui import export as ex
    win = scene_window("1")
    win.jobs.pool.waitForDone(60000)
    ex.export_png(win, tmp_path / "v.png", (640, 400))
    assert iio.imread(tmp_path / "v.png").shape[:2] == (400, 640)
    n = ex.export_video(ex.scene_frames(win, 10, beats=[0], size=(320, 200), max_s=2.0), tmp_path / "b.gif", 10)
    gif = iio.imread(tmp_path / "b.gif", index=None)
    assert gif.shape[0] == n == 20 and gif.shape[1:3] == (200, 320)
    n = ex.export_video(ex.scene_frames(win, 10, beats=[0], size=(320, 200), max_s=2.0), tmp_path / "b.mp4", 10)
    mp4 = iio.imread(tmp_path / "b.mp4", index=None, plugin="pyav") if False else None
    import imageio.v2 as iio2
    r = iio2.get_reader(tmp_path / "b.mp4", format="FFMPEG")
    assert r.count_frames() == n and r.get_data(0).shape[:2] == (200, 320)
    r.close()
    ex.export_csv([win.controller.engine], tmp_path / "m.csv")
    assert (tmp_path / "m.csv").read_text().count("\n") > 2
    with pytest.raises(ex.ExportCancelled):
        ex.export_video(ex.scene_frames(win, 10, beats=[0], size=(320, 200)), tmp_path / "c.mp4", 10,
                        cancelled=lambda: True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.gif", "b.mp4", "m.csv", "v.png"]
