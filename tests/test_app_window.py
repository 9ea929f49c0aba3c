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


def _observable(eng):
    """What the engine answers about its state (view API), for replay comparisons."""
    ch = eng.chunk_state()
    return (eng.now_s, ch.link.tolist(), ch.start_s.tolist(), ch.ready_s.tolist(), ch.msg.tolist(),
            eng.link_busy_total_s.tolist())


def test_step_back_replays_identically(window):
    c = window.controller
    for _ in range(5):
        c.step()
    after = _observable(c.engine)
    c.step_back()
    c.step_back()
    c.step()
    c.step()
    assert _observable(c.engine) == after


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
    def boom(*args, **kwargs):
        raise RuntimeError("injected failure")
    monkeypatch.setattr(window.controller.engine, "step", boom)
    if hasattr(window.controller.engine, "advance"):
        monkeypatch.setattr(window.controller.engine, "advance", boom)
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
    window.actions["about"].trigger()
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


# ---------------------------------------------------------------------------------- what users see

@pytest.mark.parametrize("w, h", [(1366, 768), (1280, 720)])
def test_window_fits_small_screens_with_status_bar(window, qtbot, w, h):
    assert window.minimumSizeHint().height() <= h and window.minimumSizeHint().width() <= w
    window.resize(w, h)
    qtbot.waitUntil(lambda: window.height() == h and window.width() == w, timeout=3000)
    sb = window.statusBar()
    assert sb.isVisible() and sb.geometry().bottom() < window.height()
    assert window.hints.isVisible()
    assert window.clock.isVisible() and window.clock.geometry().right() <= window.toolbar.width()


def _unwrapped_labels(root):
    from PySide6.QtWidgets import QLabel
    from app.windows.window_state import plain
    for lab in root.findChildren(QLabel):
        if lab.isVisible() and not lab.wordWrap() and lab.text() and "<" not in lab.text():
            yield lab, plain(lab.text())


def test_no_label_is_truncated_at_1280x720(window, qtbot):
    window.resize(1280, 720)
    qtbot.wait(50)
    run_frames(window, 10)
    for lab, text in _unwrapped_labels(window):
        need = lab.fontMetrics().horizontalAdvance(text)
        assert need <= lab.contentsRect().width() + 1, f"{text!r} needs {need} px, has {lab.contentsRect().width()}"


def test_no_identifiers_in_visible_text(window, qtbot):
    from sim_core import preset_ids
    from app.windows.window_state import visible_text
    run_frames(window, 10)
    texts = visible_text(window)
    ids = set(preset_ids()) | set(LINK_KINDS)
    leaked = [t for t in texts if t in ids or any(f" {i} " in f" {t} " for i in preset_ids())]
    assert not leaked, leaked
    assert not [t for t in texts if "1 chips" in t or "(x1e" in t or "1e+" in t]


def test_inspector_follows_an_architecture_switch(window, qtbot):
    run_frames(window, 5)
    f = window.sim.fabric
    last_link = f.n_links - 1  # an InfiniBand-side link id that does not exist on the next machine
    window.inspector.pin(window.sim, ("link", last_link))
    assert window.inspector.values
    old = window.sim
    window.actions["next_architecture"].trigger()
    qtbot.waitUntil(lambda: window.sim is not old, timeout=10000)
    assert window.inspector.target is None and not window.inspector.values
    run_frames(window, 5)  # no IndexError while refreshing
    from app.model.describe import describe_target
    assert describe_target(window.sim, ("link", 10**9)) == ("", [])
    assert describe_target(window.sim, ("message", 10**9)) == ("", [])


def test_space_in_a_spin_box_plays_and_keeps_the_value(window, qtbot):
    box = window.params.rate if window.params.rate.isEnabled() else window.params.nbytes
    before = box.text()
    box.setFocus()
    qtbot.waitUntil(box.hasFocus, timeout=2000)
    QTest.keyClick(box, Qt.Key_Space)
    assert window.controller.state == "playing"
    QTest.keyClick(box, Qt.Key_Space)
    assert window.controller.state == "stopped"
    assert box.text() == before
    n = window.controller.engine.step_count
    QTest.keyClick(box, Qt.Key_Right)
    assert window.controller.engine.step_count == n + 1


def test_speed_display_reads_plain_numbers(window):
    c = window.controller
    c.set_speed(1e-3)
    assert "1/1000x" in window.clock.plain_text()
    c.set_speed(1.64)  # snapped to the ladder: never "1/1.64x" or "1.64x"
    assert c.speed == 2.0 and "2x" in window.clock.plain_text()
    for _ in range(30):
        c.faster()
    assert c.speed == 1e4 and "10,000x" in window.clock.plain_text()
    text = window.clock.plain_text()
    assert "e+" not in text and "e-" not in text


def test_plots_say_their_units_without_si_multipliers(window):
    run_frames(window, 30)
    window.refresh_plots()
    for plot in (window.util_plot, window.inflight_plot, window.rate_plot):
        for side in ("left", "bottom"):
            axis = plot.getAxis(side)
            assert not axis.autoSIPrefix
            assert "(x1e" not in axis.labelString()
    assert "MB" in window.inflight_plot.getAxis("left").labelText or "kB" in \
        window.inflight_plot.getAxis("left").labelText
    # the busiest link of each kind beside the mean, and never below it
    v = window.util_plot.values()
    assert "InfiniBand busiest" in v and v["InfiniBand busiest"] >= v["InfiniBand mean"]


def test_plots_stay_in_step_with_the_clock(window):
    c = window.controller
    run_frames(window, 20)
    window.refresh_plots()
    x, _ = window.inflight_plot.curve.getData()
    scale, _unit = __import__("app.model.render_model", fromlist=["x"]).time_unit(c.display_t)
    assert x[-1] * scale <= c.display_t * (1 + 1e-9)


def test_comparison_shows_every_preset_nonzero_with_full_key(window, qtbot):
    from sim_core import preset_ids
    window.request_comparison()
    qtbot.waitUntil(lambda: not window.comparison.pending, timeout=180000)
    st = window.comparison.state()
    assert len(st["labels"]) == len(preset_ids())
    assert all(v > 0 for v in st["values"])
    assert st["labels"][0].startswith("> ") and "(on screen)" in st["labels"][0]
    key = window.comparison.key
    assert key.wordWrap() and all(n in key.text() for n in ("InfiniBand", "NVLink"))
    # the chart's row for this machine is the round animated (same workload, fresh build)
    from app.launch import finish_a_round
    window.controller.play()
    finish_a_round(window)
    window.controller.pause()
    assert window.comparison.chart_round_s == pytest.approx(window.sim.workload.last_round_s(), rel=1e-9)


def test_comparison_shows_a_user_loaded_architecture(window, qtbot, tmp_path):
    from sim_core import architecture_to_toml
    text = architecture_to_toml(window.sim.spec).replace(f'name = "{window.sim.spec.name}"', 'name = "My cluster"')
    path = tmp_path / "mine.toml"
    path.write_text(text)
    old = window.sim
    window.open_architecture_file(str(path))
    qtbot.waitUntil(lambda: window.sim is not old, timeout=20000)
    assert window.params.arch.currentText() == "My cluster"
    window.request_comparison()
    qtbot.waitUntil(lambda: not window.comparison.pending, timeout=180000)
    labels = window.comparison.state()["labels"]
    assert "(on screen)" in labels[0] and len(labels) == 7


def test_training_shows_a_computing_badge(window, qtbot):
    from app.model.scenario import SCENARIOS
    sc = SCENARIOS["default"].replace(workload="training", params={"model": "bert-large"}, size=1, tiles=(1, 1))
    window.apply_scenario_now(sc)
    seen = False
    for _ in range(400):
        run_frames(window, 1)
        if window.badge.isVisible():
            seen = True
            break
    assert seen and "computing on" in window.badge.text()


def test_dump_state_writes_texts_chart_and_rounds(tmp_path):
    import json
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = tmp_path / "state.json"
    r = subprocess.run([sys.executable, "-m", "app", "--scene", "default", "--frames", "5", "--size", "1280x720",
                        "--speed", "20", "--dump-state", str(out)], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    d = json.loads(out.read_text())
    assert d["clock"]["requested_speed"] == 20  # --speed applies to a dump as to the benchmark
    assert isinstance(d["animated_round_s"], float) and d["animated_round_s"] > 0
    assert d["chart_round_s"] == pytest.approx(d["animated_round_s"], rel=1e-9)
    assert d["chart"]["labels"] and len(d["chart"]["labels"]) == len(d["chart"]["values"])
    assert any("DGX A100" in t for t in d["visible_text"])


def test_server_captions_sit_on_a_plate_above_the_links(window):
    """The links from server 0 to the network switches pass over "server 1": its caption is drawn
    above every link, on an opaque plate, so it stays readable."""
    view = window.view
    captions = [it for it in view.getPlotItem().items
                if isinstance(it, pg.TextItem) and it.textItem.toPlainText().startswith("server ")]
    assert len(captions) >= 2
    links = list(view._curves.values())
    assert links
    for c in captions:
        assert c.zValue() > max(l.zValue() for l in links)
        assert c.fill.color().alpha() >= 200


def test_empty_comparison_has_no_time_axis(window):
    """A NoC workload has nothing to compare: the chart shows no 0.1 .. 0.9 axis under no bars."""
    plot = window.compare_plot
    plot.set_rows([])
    assert not plot.getPlotItem().getAxis("bottom").isVisible()
    plot.set_rows([{"label": "a", "compute_s": 1e-3, "comm_s": 2e-3, "kind": "nvlink"}])
    assert plot.getPlotItem().getAxis("bottom").isVisible()
