"""App hardening: extreme parameter values run or are refused at the panel with the limit and why;
background jobs can be cancelled; engines keep a bounded injection queue."""
import threading

import pytest

from app.ui.parameter_panel import ParameterPanel
from app.model.scenario import LIVE_MAX_CHIPS_COLLECTIVE, SCENARIOS, SOURCE_QUEUE_LIMIT, build_simulation
from app.ui.workers import JobRunner
from sim_core import load_architecture


@pytest.fixture
def panel(qtbot):
    p = ParameterPanel()
    qtbot.addWidget(p)
    sc = SCENARIOS["default"]
    p.show_scenario(sc, load_architecture(sc.architecture))
    yield p
    p.shutdown()


def _apply(panel, qtbot, **values):
    got = []
    panel.scenario_edited.connect(got.append)
    for name, v in values.items():
        getattr(panel, name).setValue(v)
    panel._emit()
    return got[0] if got else None


# widget, value, None (runs) or a phrase the refusal must contain
EXTREMES = [
    ("size", 1, None),                      # 1 server = 8 chips
    ("size", 10_000, "fabric limit"),       # 80,000 GPUs x 4x8 cores
    ("rows", 1, None),
    ("nbytes", 1e-6, None),                 # 1 byte
    ("nbytes", 1e5, None),                  # 100 GB
    ("bw", 1e-12, None),                    # ~1 B/s off-chip links
    ("bw", 1e4, None),                      # ~10 TB/s+ links
    ("lat", 1e-4, None),                    # ~1 ns
    ("lat", 1e7, None),                     # ~seconds
]


@pytest.mark.parametrize("widget, value, refused", EXTREMES)
def test_extreme_values_run_or_are_refused_with_the_limit(panel, qtbot, widget, value, refused):
    got = _apply(panel, qtbot, **{widget: value})
    assert getattr(panel, widget).value() == pytest.approx(value)
    if refused:
        assert got is None and panel.notice.isVisibleTo(panel)
        assert refused in panel.notice.text() and "MAX_TILES" in panel.notice.text()
    else:
        assert got is not None and not panel.notice.isVisibleTo(panel), panel.notice.text()
        sim = build_simulation(got)
        for _ in range(3):
            sim.engine.step(sim.step_s)


def test_1024x1024_cores_per_chip_hit_the_fabric_limit(panel, qtbot):
    assert _apply(panel, qtbot, rows=1024, cols=1024) is None
    assert "fabric limit" in panel.notice.text() and "MAX_TILES" in panel.notice.text()


def test_many_chips_with_one_core_are_refused_for_the_live_view(panel, qtbot):
    assert _apply(panel, qtbot, rows=1, cols=1, size=10_000) is None
    assert f"at most {LIVE_MAX_CHIPS_COLLECTIVE}" in panel.notice.text()


def test_huge_mesh_on_one_wafer_is_refused_for_the_frame_budget(qtbot):
    p = ParameterPanel()
    qtbot.addWidget(p)
    sc = SCENARIOS["wafer"]
    p.show_scenario(sc, load_architecture(sc.architecture))
    assert _apply(p, qtbot, rows=1024, cols=1024) is None
    assert "frame budget" in p.notice.text()
    assert _apply(p, qtbot, rows=1, cols=1) is not None  # a 1x1 mesh runs
    p.shutdown()


@pytest.mark.parametrize("widget, typed, field, allowed", [
    ("size", -5, "size", "1 to 10,000"),
    ("size", 10**6, "size", "1 to 10,000"),
    ("bw", 0, "off-chip bandwidth x", "1e-12 to 10,000"),
    ("buffer", 0, "buffer depth", "1 to 64"),
    ("rate", -1, "NoC rate", "0 to 1"),
])
def test_out_of_range_input_is_refused_and_kept(panel, qtbot, widget, typed, field, allowed):
    """No silent clamping: the field keeps what was typed, the notice names the field and its range."""
    if widget == "rate":
        panel.kind.setCurrentText("noc")
    assert _apply(panel, qtbot, **{widget: typed}) is None
    assert getattr(panel, widget).value() == typed
    text = panel.notice.text()
    assert panel.notice.isVisibleTo(panel) and field in text and allowed in text, text
    assert getattr(panel, widget).property("refused")
    getattr(panel, widget).setValue(2 if widget != "rate" else 0.01)  # corrected: applied, notice gone
    panel._emit()
    assert not panel.notice.isVisibleTo(panel) and not getattr(panel, widget).property("refused")


def test_typed_text_is_not_rewritten(panel, qtbot):
    from PySide6.QtCore import Qt
    box = panel.size
    box.lineEdit().selectAll()
    qtbot.keyClicks(box.lineEdit(), "-5")
    box.interpretText()
    qtbot.keyClick(box.lineEdit(), Qt.Key_Tab)
    assert box.value() == -5 and box.text() == "-5"


def test_architecture_list_shows_names(panel):
    from sim_core import preset_ids
    shown = [panel.arch.itemText(i) for i in range(panel.arch.count())]
    assert not set(shown) & set(preset_ids())
    assert "DGX A100 nodes on HDR InfiniBand" in shown
    assert panel.current().architecture == "dgx-a100"


def test_cancel_stops_a_running_job(qtbot):
    runner = JobRunner()
    started, errors, done = threading.Event(), [], []

    def slow(progress):
        started.set()
        sim = build_simulation(SCENARIOS["wafer"])
        from sim_core.cancel import check
        for _ in range(100_000):
            sim.engine.step(sim.step_s)
            check()  # the cooperative cancellation point jobs use
        return "finished"

    runner.submit("scenario", slow, done.append, lambda m, d: errors.append(m))
    assert started.wait(10)
    runner.cancel("scenario")
    runner.pool.waitForDone(10_000)
    qtbot.wait(50)
    assert done == [] and runner.pool.activeThreadCount() == 0
    runner.shutdown()


def test_pod4096_is_a_whole_tpu_v4_pod_within_the_live_limits():
    from app.model.scenario import live_limit_message
    sc = SCENARIOS["pod4096"]
    spec = load_architecture(sc.architecture)
    assert spec.topology.kind == "torus" and sc.dims == (16, 16, 16)
    assert sc.tiles[0] >= 2 and sc.tiles[1] >= 2
    assert sc.workload == "collective" and sc.params["op"] == "allreduce"
    assert live_limit_message(sc, spec) is None
    # the same pod with a flat ring (millions of messages a round) is still refused
    assert "at most" in live_limit_message(sc.replace(params={**sc.params, "algo": "ring"}), spec)


def test_a_frame_does_only_the_work_its_budget_allows(qtbot):
    from app.ui.controller import Controller
    sim = build_simulation(SCENARIOS["default"])
    c = Controller(sim)
    frames = []
    c.frame.connect(lambda: frames.append(c.display_t))
    c.play()
    c.timer.stop()
    c.advance(1 / 60, budget_s=0.0)  # no budget: the clock shows what was reached, never a backlog
    assert c.sim_limited and c.display_t == sim.engine.now_s == 0.0 and frames
    c.advance(1 / 60, budget_s=10.0)
    assert not c.sim_limited and c.display_t == pytest.approx(sim.sim_rate_s / 60)
    assert c.achieved_speed == pytest.approx(0.5 * c.speed)  # one of the two frames showed its time
    c.shutdown()


def test_noc_traffic_at_top_speed_is_made_only_as_fast_as_it_plays(qtbot):
    # At 10,000x a frame asks for 25 us of a wafer: ~0.8 M packets on 64x64. Made at once,
    # they piled up faster than the budget played them (a 28 s frame, 12 GB).
    from app.ui.controller import Controller
    sim = build_simulation(SCENARIOS["wafer"].replace(tiles=(16, 16)))
    eng = sim.engine
    c = Controller(sim)
    c.set_speed(10000)
    c.play()
    c.timer.stop()
    for _ in range(6):
        c.advance(1 / 60, budget_s=0.01)
    asked = 6 * c.speed * sim.sim_rate_s / 60
    assert 0 < eng.now_s < asked / 10  # the budget plays a sliver of what was asked for
    ahead = eng._gen_until - eng.now_s
    assert ahead < eng.now_s  # traffic exists only a slice ahead of the clock, not for the whole ask
    assert c.achieved_speed < c.speed / 10  # and the display says so
    c.shutdown()
