"""Training in the app: the workload animates sim_core.training.schedule_iteration round after
round; the main window shows the iteration breakdown and days to train here and on every
preset (computed off the GUI thread, cached); the mesh heatmap shows the chip's mesh working."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from sim_core.workloads import training  # noqa: E402
from app.model.scenario import SCENARIOS, build_simulation  # noqa: E402
from app.model.workloads import TrainingIteration, make_workload, nearest_model  # noqa: E402
from app_fixtures import run_frames, window  # noqa: E402,F401

pytestmark = pytest.mark.qt_log_ignore("does not support propagateSizeHints", "does not support raise")

TRAINING = SCENARIOS["default"].replace(name="training", workload="training", chunk_bytes=4 << 20,
                                        params={"model": "bert-large"}, sim_rate_s=0.05)


def test_training_workload_repeats_rounds_of_schedule_iteration():
    sim = build_simulation(TRAINING)
    wl = sim.workload
    assert isinstance(wl, TrainingIteration) and wl.model.id == "bert-large"
    assert wl.plan == training.auto_plan(sim.spec, wl.model, sim.fabric.n_chips)
    eng = sim.engine
    t = 0.0
    while len(wl.log.durations) < 2 and t < 5.0:
        eng.step(2e-3)
        t += 2e-3
    assert len(wl.log.durations) >= 2
    # every round is the same schedule on a fresh engine slot: ids are recycled, durations equal
    assert np.ptp(wl.log.durations) <= 1e-9 * max(wl.log.durations)
    assert wl.ids.size > 0  # the next round is scheduled


def test_panel_model_size_picks_the_nearest_zoo_model():
    assert nearest_model(125e6) == "bert-large"
    assert nearest_model(175e9) == "gpt3-175b"
    sim = build_simulation(SCENARIOS["default"].replace(workload="training", chunk_bytes=4 << 20,
                                                        params={"params": 340e6, "tokens_per_device": 2048}))
    assert sim.workload.model.id == "bert-large" and sim.workload.plan.microbatch == 4


def test_a_model_that_does_not_fit_is_refused_with_the_reason():
    from sim_core import SpecError
    with pytest.raises(SpecError, match="fits no"):
        build_simulation(TRAINING.replace(params={"model": "gpt3-175b"}))


def test_window_shows_breakdown_and_days_to_train(window):
    window.apply_scenario_now(TRAINING)
    window.request_comparison()
    window.jobs.pool.waitForDone(60000)
    from PySide6.QtWidgets import QApplication
    QApplication.processEvents()
    res = window.training_result
    assert res is not None
    cur = res["current"]
    est = training.estimate("dgx-a100", "bert-large", window.sim.workload.plan, nodes=2, epochs=40)
    assert cur["iteration_s"] == pytest.approx(est["iteration_s"], rel=1e-9)
    assert sum(v for _, v in cur["segments"]) == pytest.approx(cur["iteration_s"], rel=1e-9)
    assert cur["days"] == pytest.approx(est["time_to_train_days"], rel=1e-9)
    assert {r["id"] for r in res["rows"]} >= {"cpu-cluster", "dgx-a100", "wafer-wse2"}
    assert "days to train" in window.comparison.heading.text()
    plot = window.compare_plot
    assert plot.rows[0]["label"].startswith("this machine") and "compute" in plot.bars
    # cached: asking again is immediate and identical
    from app.model.comparison import training_comparison
    assert training_comparison(window.sim) is res


def test_core_mesh_heatmap_shows_load_in_the_default_scene(window):
    run_frames(window, 30)
    window.heatmap.refresh(window.controller.engine)
    run_frames(window, 30)
    window.heatmap.refresh(window.controller.engine)
    load = window.heatmap.load
    assert load.shape == (window.sim.fabric.tile_rows, window.sim.fabric.tile_cols)
    assert load.max() > 0 and (load > 0).sum() >= 2
    img = window.heatmap.image.image
    assert img.max() > np.log10(1e-4)
    # the square cells leave room beside the mesh: no tick there ("core column -5")
    rows, cols = load.shape
    window.heatmap.setFixedSize(700, 160)  # wide and low, as in a 1280x720 window
    QApplication.processEvents()
    window.heatmap.getViewBox().autoRange(padding=0)
    (x_lo, x_hi), (y_lo, y_hi) = window.heatmap.getViewBox().viewRange()
    assert x_lo < -2 and x_hi > cols + 2  # the cells are square: there is room beside the mesh
    for axis, n, lo, hi in (("bottom", cols, x_lo, x_hi), ("left", rows, y_lo, y_hi)):
        ax = window.heatmap.getAxis(axis)
        shown = [v for _, vals in ax.tickValues(lo, hi, 700 if axis == "bottom" else 160) for v in vals
                 if lo <= v <= hi]
        assert shown and all(0 <= v <= n for v in shown), (axis, shown)


def test_save_as_scene_reopens_to_the_same_numbers(window, tmp_path):
    """File > Save as scene: the file loads through the schema and replays to the same state."""
    from app.scenes.runner import open_scene
    assert window.actions["save_scene"].text() == "Save as scene..."
    run_frames(window, 40)
    eng = window.controller.engine
    path = tmp_path / "saved.toml"
    assert window.save_scene_file(str(path))
    run = open_scene(str(path))
    assert run.scene.panes[0].seed == window.sim.scenario.seed
    run.run_all()
    again = run.sims[0].engine
    assert again.now_s == pytest.approx(eng.now_s, rel=1e-12)
    np.testing.assert_allclose(again.link_bytes_total, eng.link_bytes_total, rtol=1e-9)
    np.testing.assert_allclose(again.link_busy_total_s, eng.link_busy_total_s, rtol=1e-9, atol=1e-15)
    assert again.bytes_delivered == pytest.approx(eng.bytes_delivered, rel=1e-9)


def test_save_as_scene_refuses_what_the_schema_cannot_say(window, tmp_path):
    window.apply_scenario_now(window.sim.scenario.replace(offchip_bandwidth_scale=2.0))
    assert not window.save_scene_file(str(tmp_path / "x.toml"))
    assert "offchip_bandwidth_scale" in window.message_bar.label.text()
    assert not (tmp_path / "x.toml").exists()


def test_compute_phases_are_skipped_and_the_clock_says_so(window):
    """At 1x a training iteration's compute phase would sit still for hours: the display jumps
    over spans where no data moves, the clock says how much, and turning it off plays them."""
    window.apply_scenario_now(TRAINING.replace(size=1))
    c = window.controller
    c.set_speed(1.0)
    eng = window.sim.engine
    for _ in range(400):
        run_frames(window, 1)
        if c.skipped_s > 0:
            break
    assert c.skipped_s > 0
    assert 0 < c.skipped_s < c.display_t <= eng.now_s  # jumps only ahead, never past the engine
    assert "skipped: no data moving" in window.clock.plain_text()
    from app.windows.window_state import window_state
    assert window_state(window)["clock"]["skipped_s"] == c.skipped_s
    # with skipping off, one frame at 1x moves the display by about one frame of simulated time
    window.actions["skip_idle"].trigger()
    assert not c.skip_idle
    before, skipped = c.display_t, c.skipped_s
    run_frames(window, 1)
    assert c.skipped_s == skipped
    assert c.display_t - before <= 1.01 * (1 / 60) * window.sim.sim_rate_s


def test_quiet_until_is_now_while_chunks_move_and_the_compute_end_when_only_compute_runs():
    from sim_core import load_architecture
    from sim_core.engine.core import Engine
    from sim_core.fabric.build import build_fabric

    fab = build_fabric(load_architecture("dgx-a100"), nodes=1, tiles=(2, 2))
    eng = Engine(fab, chunk_bytes=1 << 20)
    a, b = fab.device_node(0), fab.device_node(1)
    job = eng.add_compute([a], 0.25)
    assert eng.quiet_until_s() == 0.0  # added, not yet admitted
    eng.step(1e-6)
    assert eng.compute_running == 1 and eng.quiet_until_s() == pytest.approx(0.25)
    eng.add_dependencies(job, eng.add_messages([a], [b], 8e6))
    eng.step(0.25)
    assert eng.bytes_in_flight > 0 and eng.quiet_until_s() == eng.now_s
    eng.run_until_idle(dt_s=1e-3)
    assert eng.quiet_until_s() == float("inf") and eng.compute_running == 0
