"""Scenes in the window (offscreen): every scene renders frames without Qt warnings; presenter
keys move beats; a bad scene is refused and the window stays; exports are valid and atomic."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import re  # noqa: E402

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

    def make(scene="1", fast=True):
        win = SceneWindow(scene, fast=fast)
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
    assert win.study is not None and win.check.text().startswith("Checked in this run")
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
    # Frames advance as far as a wall-clock budget allows; the replay is compared at equal
    # simulated time, stepping the scene's one clock directly.
    win = scene_window("4")

    def run_beat_two():
        win.goto_beat(2)
        for _ in range(20):
            win.run.step(win.run.step_s)
        eng = win.run.sims[0].engine
        return eng.now_s, eng.link_busy_total_s.copy()

    a = run_beat_two()
    win.goto_beat(1)
    b = run_beat_two()
    assert a[0] == b[0]
    np.testing.assert_array_equal(a[1], b[1])


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


def test_check_line_is_never_the_previous_scenes(scene_window):
    win = scene_window("1")
    win.jobs.pool.waitForDone(60000)
    QApplication.processEvents()
    first = win.check.text()
    assert first.startswith("Checked in this run") and "Measured: " in first
    win.open_scene("2")
    assert win.check.text() != first and win.check.text().startswith("Checking: ")
    win.jobs.pool.waitForDone(60000)
    QApplication.processEvents()
    assert win.check.text().startswith("Checked in this run") and "neighbour traffic" in win.check.text()


def _fits(label) -> bool:
    """A word-wrapped label shows all of its text: its height for its width fits."""
    return not label.isVisible() or label.heightForWidth(label.width()) <= label.height() + 2


@pytest.mark.parametrize("name", list(shipped_scenes()))
def test_presenter_at_720p_every_beat_readable(scene_window, name):
    """1280x720 presenter fonts: no chart text cut off, no label truncated, the beat text in its own
    band below the panes, axis units chosen by the app, nothing left from the previous beat or scene."""
    win = scene_window(name, fast=False)  # full size: the rows and labels the audience sees
    win.set_presenting(True, full_screen=False)
    win.resize(1280, 720)
    win.jobs.pool.waitForDone(300000)
    QApplication.processEvents()
    for b in range(len(win.scene.beats)):
        win.goto_beat(b)
        frames(win, 2)
        assert win.chart.overflowing_texts() == [], (b, win.chart.overflowing_texts())
        assert win.chart.covered_texts() == [], (b, win.chart.covered_texts())  # bars and legend clear of labels
        for label in (win.title, win.point, win.overlay, win.check, win.finish, win.chart_title):
            assert _fits(label), (b, label.text())
        band = win.overlay.geometry()
        panes = win.panes_box.geometry()
        assert band.top() >= panes.bottom(), "the beat text never covers the panes"
        bottom = win.chart.getAxis("bottom").labelText
        assert not re.search(r"\(x[0-9]|[0-9]e[+-][0-9]", bottom), bottom  # no SI multipliers
        if win.scene.view.chart in ("stacked", "ratio-bars"):
            assert bottom.startswith("time") and bottom.endswith(("(ns)", "(us)", "(ms)", "(s)"))
        state = win.dump_state()
        from app.scenes.present import fill_text
        from app.windows.scene_window import plain_text
        assert plain_text(fill_text(win.scene.beats[b].text, win.study.values))[:10] in state["beat_text"]
        assert "..." not in state["beat_text"] or "..." in win.scene.beats[b].text


def test_axis_labels_do_not_leak_between_scenes(scene_window):
    win = scene_window("4")
    win.jobs.pool.waitForDone(120000)
    QApplication.processEvents()
    win.goto_beat(3)
    assert win.chart.getAxis("left").labelText == "mean latency (cycles)"
    win.open_scene("5")
    win.jobs.pool.waitForDone(120000)
    QApplication.processEvents()
    assert "cycles" not in win.chart.getAxis("bottom").labelText
    assert not win.chart.getPlotItem().getAxis("left").isVisible() or win.chart.getAxis("left").labelText == ""


def test_dump_state_has_what_the_window_shows(scene_window, tmp_path):
    import json
    from app.scenes.cli import window_state
    win = scene_window("1")
    win.goto_beat(4)
    state = window_state(win, QApplication.instance(), 5)
    json.dumps(state)  # plain data
    text = " ".join(state["visible_text"])
    for bit in ("Leaving the chip", "Ethernet", state["check_line"], state["chart"]["title"], "time (", "x"):
        assert bit in text, bit
    values = {v["label"]: v["value"] for v in state["chart"]["values"]}
    assert len(values) == 5 and state["chart"]["unit"] in ("ns", "us")
    assert state["check"]["passed"] and state["check"]["shown"].endswith("x")
    assert max(values.values()) / min(values.values()) == pytest.approx(state["study_values"]["max_offchip_over_onchip"])


def test_bisection_is_highlighted_with_its_load(scene_window):
    win = scene_window("2")
    win.goto_beat(2)
    frames(win, 20)
    assert win.bisection and len(win.bisection) == 2 * win.run.sims[0].fabric.tile_rows
    assert sorted(win.views[0].highlighted) == sorted(win.bisection)
    assert "crossing the bisection" in win.live_line() and "busy" in win.live_line()


def test_browser_thumbnails_render_off_the_gui_thread(qtbot, tmp_path, monkeypatch):
    from app.windows import scene_browser as sb
    monkeypatch.setattr(sb, "cache_dir", lambda: tmp_path)
    calls = []
    real = sb.render_thumbnail

    def spy(path, *a):
        from PySide6.QtCore import QThread
        calls.append(QThread.currentThread() is QApplication.instance().thread())
        return real(path, *a)
    monkeypatch.setattr(sb, "render_thumbnail", spy)
    dlg = sb.SceneBrowser()
    qtbot.addWidget(dlg)
    assert dlg.list.count() == 8  # listed at once, placeholders first
    qtbot.waitUntil(lambda: dlg.pending == 0, timeout=120000)
    assert calls and not any(calls), "thumbnails are rendered on a worker thread"
    assert len(list(tmp_path.glob("*.png"))) == 8
    dlg.close()
    assert dlg.jobs.pool.activeThreadCount() == 0


def test_thumbnail_cache_key_follows_the_scene_folder_and_the_version(tmp_path, monkeypatch):
    import shutil
    from app.windows import scene_browser as sb
    src = shipped_scenes()["4-congestion"]
    shutil.copy(src, tmp_path / src.name)
    shutil.copy(src.parent / "noc-lab-16x16.toml", tmp_path / "noc-lab-16x16.toml")
    a = sb.cache_key(tmp_path / src.name)
    (tmp_path / "noc-lab-16x16.toml").write_text((tmp_path / "noc-lab-16x16.toml").read_text().replace(
        "power_W = 10", "power_W = 11"))
    b = sb.cache_key(tmp_path / src.name)
    assert b != a
    sb._shared_key.cache_clear()
    monkeypatch.setattr(sb.metadata, "version", lambda name: "99.0")
    try:
        assert sb.cache_key(tmp_path / src.name) != b
    finally:
        sb._shared_key.cache_clear()


def test_live_line_names_panes_only_when_there_are_several(scene_window):
    """A lone pane's label is above it: the line under the panes does not repeat it (scene 6's
    label, cut at its colon, once ran over three lines under the beat text); two panes are named
    by their labels up to the colon."""
    win = scene_window("6")
    frames(win, 3)
    line = win.live_line()
    assert line.startswith("computing, no link traffic"), line
    assert "DGX" not in line and "(the chart" not in line, line
    win.open_scene("5")
    frames(win, 3)
    names = win.pane_names()
    assert names == ["Wafer (WSE-2-like)", "DGX A100 server"], names


def test_queue_of_one_flit_is_singular(scene_window):
    win = scene_window("4")
    eng = win.controller.engine
    eng.link_queue = lambda: np.array([0, 1, 0])
    assert "longest queue 1 flit" in win.live_line() and "1 flits" not in win.live_line()
    eng.link_queue = lambda: np.array([0, 3])
    assert "longest queue 3 flits" in win.live_line()


def test_clock_is_never_cut_while_its_text_grows(scene_window):
    """The clock's text changes every frame; its label is as wide as its widest text at once (a
    recorded frame showed "... for every pan" before the layout caught up)."""
    from app.windows.scene_window import clock_text
    win = scene_window("3")
    win.set_presenting(True, full_screen=False)
    win.resize(1280, 720)
    QApplication.processEvents()
    for t in (0.0, 9.5e-9, 73.2e-6, 888.8e-3, 5.06):
        win.clock.setText(clock_text(t))  # no event processed: the geometry is what the last layout gave
        assert win.clock.fontMetrics().horizontalAdvance(win.clock.text()) <= win.clock.contentsRect().width(), t


def test_hot_core_is_ringed_above_the_traffic(scene_window):
    """Scene 4's hotspot beat names the centre core: a ring marks it above the chunks (a yellow link
    highlight under yellow traffic could not be seen); other beats mark nothing."""
    win = scene_window("4")
    win.goto_beat(1)
    view, f = win.views[0], win.run.sims[0].fabric
    r, c = win.scene.beats[1].highlight.core
    assert view.marked == [r * f.tile_cols + c]
    assert (f.node_x[view.marked[0]], f.node_y[view.marked[0]]) == tuple(view._marks.getData()[i][0] for i in (0, 1))
    assert view._marks.zValue() > max(p.zValue() for p in view._particles)
    win.goto_beat(2)
    assert view.marked == [] and len(view._marks.getData()[0]) == 0
