"""App hardening: extreme parameter values run or are refused at the panel with the limit and why;
background jobs can be cancelled; engines keep a bounded injection queue."""
import threading

import pytest

from app.ui.parameter_panel import ParameterPanel
from app.model.scenario import LIVE_MAX_CHIPS, SCENARIOS, SOURCE_QUEUE_LIMIT, build_simulation
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
    assert f"at most {LIVE_MAX_CHIPS}" in panel.notice.text()


def test_huge_mesh_on_one_wafer_is_refused_for_the_frame_budget(qtbot):
    p = ParameterPanel()
    qtbot.addWidget(p)
    sc = SCENARIOS["wafer"]
    p.show_scenario(sc, load_architecture(sc.architecture))
    assert _apply(p, qtbot, rows=1024, cols=1024) is None
    assert "frame budget" in p.notice.text()
    assert _apply(p, qtbot, rows=1, cols=1) is not None  # a 1x1 mesh runs
    p.shutdown()


def test_values_outside_a_widget_range_are_not_accepted(panel):
    panel.size.setValue(10**6)
    assert panel.size.value() == 10_000
    panel.rate.setValue(-1)
    assert panel.rate.value() == 0.0


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
