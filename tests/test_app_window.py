"""The window, its actions, hover/click numbers, errors and repaint stability (offscreen)."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import subprocess  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
import pyqtgraph as pg  # noqa: E402
import pytest  # noqa: E402
from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from sim_core import LINK_KINDS  # noqa: E402
from app_fixtures import run_frames, window  # noqa: E402,F401

# The offscreen plugin warns when a dock window is shown or a tooltip raised: the platform, not us.
pytestmark = pytest.mark.qt_log_ignore("does not support propagateSizeHints", "does not support raise")


def test_opens_animating_default_scene(window):
    eng = window.controller.engine
    run_frames(window, 30)
    assert eng.now_s > 0
    p = window.view.last_particles
    assert p is not None and p.moving.sum() > 0
    x_before = p.x.copy()
    run_frames(window, 5)
    assert not np.array_equal(x_before, window.view.last_particles.x[:x_before.size]) or \
        window.view.last_particles.x.size != x_before.size
    assert eng.metrics.series("util_mean").max() > 0
    kinds = window.view.drawn_link_kinds()
    assert {"nvlink", "pcie", "infiniband"} <= kinds


def test_shortcuts_drive_the_model(window, qtbot):
    c, eng = window.controller, window.controller.engine
    QTest.keyClick(window, Qt.Key_Space)
    assert c.state == "playing"
    qtbot.waitUntil(lambda: eng.now_s > 0, timeout=3000)
    QTest.keyClick(window, Qt.Key_Space)
    assert c.state == "stopped" and not c.timer.isActive()
    n, t = eng.step_count, eng.now_s
    QTest.keyClick(window, Qt.Key_Right)
    assert eng.step_count == n + 1
    assert eng.now_s == pytest.approx(t + window.sim.step_s)
    QTest.keyClick(window, Qt.Key_Left)
    assert eng.now_s == pytest.approx(t) and eng.step_count == n
    speed = c.speed
    QTest.keyClick(window, Qt.Key_BracketRight)
    assert c.speed == pytest.approx(2 * speed)
    QTest.keyClick(window, Qt.Key_BracketLeft)
    assert c.speed == pytest.approx(speed)
    QTest.keyClick(window, Qt.Key_R)
    assert eng.now_s == 0.0 and eng.step_count == 0


def test_step_back_replays_identically(window):
    c = window.controller
    for _ in range(5):
        c.step()
    after = window.controller.engine.snapshot()
    c.step_back()
    c.step_back()
    c.step()
    c.step()
    again = window.controller.engine.snapshot()
    assert again["now_s"] == after["now_s"]
    for key in ("c_msg", "c_start", "link_busy_total_s", "m_finish"):
        np.testing.assert_array_equal(again[key], after[key])


def test_switching_architecture_changes_link_kinds(window, qtbot):
    run_frames(window, 3)
    before = window.view.drawn_link_kinds()
    old = window.sim
    QTest.keyClick(window, Qt.Key_A)  # next architecture: dgx-a100 -> dgx-h100 -> ...
    qtbot.waitUntil(lambda: window.sim is not old, timeout=10000)
    while window.sim.spec.id != "tpu-v4":
        old = window.sim
        window.actions["next_architecture"].trigger()
        qtbot.waitUntil(lambda: window.sim is not old, timeout=10000)
    run_frames(window, 3)
    after = window.view.drawn_link_kinds()
    assert "ici" in after and "infiniband" in before and "infiniband" not in after
    assert window.sim.scenario.workload == "collective"  # the workload was kept


def _link_point(window, kind: str):
    f, g = window.sim.fabric, window.view.geom
    link = int(np.flatnonzero(f.link_kind == LINK_KINDS.index(kind))[0])
    t = 0.6
    x = g.x0[link] + (g.x1[link] - g.x0[link]) * t
    y = g.y0[link] + (g.y1[link] - g.y0[link]) * t
    return link, x, y


def test_hover_and_click_show_the_engines_numbers(window, qtbot):
    run_frames(window, 20)
    window.controller.pause()
    f = window.sim.fabric
    # zoom on one off-chip link so it is easy to hit
    link, x, y = _link_point(window, "pcie")
    window.view.getViewBox().setRange(xRange=(x - 3, x + 3), yRange=(y - 2, y + 2), padding=0)
    window.view._on_range_changed()
    window.view.update_frame(window.controller.engine, window.controller.display_t)
    assert window.view.target_at(x, y) == ("link", link)
    pos = window.view.view_to_widget(x, y)
    QTest.mouseMove(window.view.viewport(), pos)
    qtbot.waitUntil(lambda: window.view.hover_target == ("link", link), timeout=3000)
    assert "bandwidth" in window.view.hover_text
    window.view.pick(x, y)  # what a left click does at that point
    eng = window.controller.engine
    v = window.inspector.values
    assert v["bandwidth"] == f.link_bandwidth_Bps[link]
    assert v["latency"] == f.link_latency_s[link]
    assert v["utilization now"] == pytest.approx(eng.link_utilization()[link])
    assert v["utilization avg"] == pytest.approx(eng.link_busy_total_s[link] / eng.now_s)
    assert v["queue"] == eng.link_queue()[link]
    assert v["bytes moved"] == eng.link_bytes_total[link]
    assert window.view.highlighted  # the path (or the link) is highlighted


def test_real_click_pins_inspector(window, qtbot):
    run_frames(window, 5)
    link, x, y = _link_point(window, "infiniband")
    window.view.getViewBox().setRange(xRange=(x - 3, x + 3), yRange=(y - 2, y + 2), padding=0)
    window.view._on_range_changed()
    pos = window.view.view_to_widget(x, y)
    QTest.mouseClick(window.view.viewport(), Qt.LeftButton, Qt.NoModifier, pos)
    qtbot.waitUntil(lambda: window.inspector.target is not None, timeout=3000)
    assert window.inspector.values


def test_bad_architecture_file_shows_error_and_keeps_running(window, qtbot, tmp_path):
    from sim_core import architecture_to_toml
    text = architecture_to_toml(window.sim.spec).replace("chips_per_node = 8", "chips_per_node = 0")
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    sim_before = window.sim
    window.controller.play()
    window.open_architecture_file(str(bad))
    qtbot.waitUntil(lambda: window.message_bar.isVisible(), timeout=10000)
    assert "chips_per_node" in window.message_bar.message
    t = window.controller.engine.now_s
    qtbot.waitUntil(lambda: window.controller.engine.now_s > t, timeout=3000)
    assert window.sim is sim_before and window.controller.state == "playing"
    window.controller.pause()


def test_parameter_change_rebuilds_off_thread(window, qtbot):
    old = window.sim
    window.params.bw.setValue(4.0)
    qtbot.waitUntil(lambda: window.sim is not old, timeout=10000)
    assert window.sim.scenario.offchip_bandwidth_scale == 4.0
    ib = window.sim.fabric.link_kind == LINK_KINDS.index("infiniband")
    assert window.sim.fabric.link_bandwidth_Bps[ib][0] == pytest.approx(4 * old.fabric.link_bandwidth_Bps[ib][0])


def test_step_error_pauses_and_reports(window, monkeypatch):
    def boom(dt):
        raise RuntimeError("injected failure")
    monkeypatch.setattr(window.controller.engine, "step", boom)
    window.controller.play()
    window.controller.advance(1 / 60)
    assert window.controller.state == "stopped"
    assert "injected failure" in window.message_bar.message
    assert "Traceback" in window.message_bar.details


def test_exports_and_about(window, tmp_path):
    from app.windows.main_window import about_text
    run_frames(window, 5)
    assert window.export_png(str(tmp_path / "v.png"))
    assert (tmp_path / "v.png").stat().st_size > 1000
    window.act_about()
    assert "PySide6" in about_text() and "pyqtgraph" in about_text()
    window.save_settings()
    assert window.settings.value("sim/scenario")


def test_many_repaints_of_plot_and_mesh_view(window, qtbot):
    """PySide6 6.12.0 + pyqtgraph 0.14.0 aborted with none_dealloc after a few hundred repaints."""
    plot = pg.PlotWidget()
    qtbot.addWidget(plot)
    curve = plot.plot(np.arange(100), np.random.default_rng(0).random(100))
    plot.show()
    for i in range(400):
        curve.setData(np.arange(100), np.sin(np.arange(100) / 10 + i))
        plot.repaint()
    for _ in range(300):
        window.controller.advance(1 / 60, budget_s=0.002)
        window.view.repaint()
    window.repaint()
    plot.close()


def test_cli_version_and_headless_screenshot(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, "-m", "app", "--version"], capture_output=True, text=True, env=env)
    assert out.returncode == 0 and out.stdout.startswith("meshscope ")
    png = tmp_path / "shot.png"
    out = subprocess.run([sys.executable, "-m", "app", "--scene", "tpu", "--frames", "10", "--screenshot", str(png)],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert png.stat().st_size > 10_000
