"""What scene charts and check lines show, without Qt: units chosen by the app, bars that sum to
what they say, a fitted line computed from the points drawn, plain-word checks, and every
scene's check at full size."""
import math

import numpy as np
import pytest

from app.model.studies import run_study
from app.model.studies_noc import run_point
from app.scenes.cli import check_result
from app.scenes.present import chart_spec, placeholders
from app.scenes.runner import open_scene
from app.scenes.spec import load_scene, shipped_scenes

SHIPPED = list(shipped_scenes())


def study_of(name, fast=True):
    run = open_scene(name, fast=fast)
    return run.scene, run.compute_study()


@pytest.mark.parametrize("name", SHIPPED)
def test_full_size_check_passes_in_plain_words(name):
    out = check_result(name, fast=False)
    assert out["passed"], out["line"]
    assert out["value_name"] not in out["line"] and "=" not in out["line"], "words for the audience"
    assert out["shown"] in out["line"]
    print(f"{name}: {out['line']} ({out['wall_s']:.1f} s)")


@pytest.mark.parametrize("name", SHIPPED)
def test_every_beat_fits_a_projector(name):
    """At most 10 labelled bars, placeholders resolve, units are words the app chose."""
    scene, st = study_of(name, fast=False)
    for beat in scene.beats:
        spec = chart_spec(st, scene.view.chart, beat.reveal)
        assert len(spec.bars) <= 10, (beat.text, len(spec.bars))
        for name_ in placeholders(beat.text):
            assert name_ in st.values, name_
        for text in spec.visible_text():
            assert "x1e" not in text and "(x0." not in text


def test_ratio_bars_show_the_magnitude_linearly():
    scene, st = study_of("1")
    spec = chart_spec(st, scene.view.chart, -1)
    times = np.array([r["value"] for r in st.rows])
    shown = np.array([b["value"] for b in spec.bars])
    np.testing.assert_allclose(shown / shown[0], times / times[0])  # a linear axis: 8,600x looks 8,600x
    assert shown[-1] / shown[0] > 1000
    assert spec.bars[-1]["text"].endswith(f"= {int(round(times[-1] / times[0])):,}x")
    assert spec.x_label in ("time (us)", "time (ns)")


@pytest.mark.parametrize("name", ["5", "6", "8"])
def test_stacked_bars_sum_to_the_iteration(name):
    scene, st = study_of(name)
    spec = chart_spec(st, "stacked", -1)
    assert spec.x_label.startswith("time per iteration (") and spec.unit in ("s", "ms", "us")
    scale = {"s": 1.0, "ms": 1e-3, "us": 1e-6}[spec.unit]
    for b in spec.bars:
        if b["bar_total_s"] is not None and "beyond" not in b["label"] and "spends longer" not in b["why"]:
            assert math.isclose(sum(v for _, v in b["segments"]) * scale, b["bar_total_s"], rel_tol=1e-9)
            assert math.isclose(b["value"] * scale, b["bar_total_s"], rel_tol=1e-9)


def test_scene_8_gap_bar_says_slowest_minus_fastest():
    """At full size the fastest machine (TPU) has a pipeline bubble the CPU cluster has not: the gap
    bar's segments add up to more than the gap. Its text says the gap (659 s - 82.5 s = 577 s, not the
    582 s of its segments), its hover says why the segments add up to more."""
    scene, st = study_of("8", fast=False)
    spec = chart_spec(st, "stacked", -1)
    gap = spec.bars[-1]
    assert gap["label"].startswith("extra time of the slowest")
    slow, fast = max(spec.bars[:-1], key=lambda b: b["total_s"]), min(spec.bars[:-1], key=lambda b: b["total_s"])
    scale = {"s": 1.0, "ms": 1e-3, "us": 1e-6}[spec.unit]
    said = float(gap["text"].split()[0].replace(",", "")) * scale
    assert math.isclose(said, slow["total_s"] - fast["total_s"], rel_tol=5e-3), (gap["text"], slow["total_s"],
                                                                               fast["total_s"])
    if not math.isclose(gap["value"] * scale, said, rel_tol=5e-3):
        assert "spends longer on pipeline bubble" in gap["why"], gap["why"]


def test_scene_5_shows_time_to_train_and_one_ratio():
    scene, st = study_of("5")
    spec = chart_spec(st, "stacked", -1)
    assert all("days to train" in b["text"] for b in spec.bars)
    assert st.values["dgx-a100_over_wafer-wse2"] == pytest.approx(
        spec.bars[1]["total_s"] / spec.bars[0]["total_s"], rel=1e-9)  # the check's ratio is the bars' ratio


def test_scene_7_fit_is_the_least_squares_line_of_the_points_drawn():
    scene, st = study_of("7")
    spec = chart_spec(st, "timeline", -1)
    x = np.array(spec.series[0]["x"])
    y = np.log2(spec.series[0]["y"])
    xm, ym = x.mean(), y.mean()
    slope = ((x - xm) * (y - ym)).sum() / ((x - xm) ** 2).sum()  # normal equations, by hand
    assert math.isclose(spec.fit["doubling_months"], 12 / slope, rel_tol=1e-9)
    assert math.isclose(st.values["doubling_months"], 12 / slope, rel_tol=1e-9)
    assert spec.log_y and spec.y_label == "training compute (petaflop/s-days), log scale"
    assert all("days" in s for s in spec.side)  # days are a separate box, not on the compute axis


def test_scene_4_beats_are_chart_points_and_hotspot_queues_pile_up():
    scene = load_scene("4")
    st = run_study(scene.study, scene.study_params, fast=False, panes=open_scene("4").initial_scenarios())
    points = {(r["group"], r["x"]) for r in st.rows}
    params = dict(scene.panes[0].params)
    for beat in scene.beats:
        params.update(beat.set)
        assert (params["pattern"], params["rate"]) in points, beat.text
        assert beat.run.for_s == scene.study_params["window_s"]
    sc = open_scene("4").initial_scenarios()[0]
    uni = run_point(sc, "uniform", 0.12, 560e-9, 190e-9)
    hot = run_point(sc, "hotspot", 0.12, 560e-9, 190e-9)
    assert hot["max_queue_chunks"] > 10 * max(1, uni["max_queue_chunks"])
    assert st.values["uniform_low_load_over_zero_load"] == pytest.approx(1.0, abs=0.2)
    spec = chart_spec(st, "curve", -1)
    assert spec.x_label == "offered load (flits/core/cycle)" and spec.y_label == "mean latency (cycles)"


def test_scene_3_chart_shows_time_and_bus_bandwidth():
    scene, st = study_of("3")
    spec = chart_spec(st, "bars", -1)
    assert all("bus bandwidth" in b["text"] and "GB/s" in b["text"] for b in spec.bars)
    assert spec.x_label in ("time (ms)", "time (us)")


def test_bisection_links_cross_the_middle():
    from app.scenes.runner import bisection_links
    run = open_scene("2", fast=True)
    f = run.sims[0].fabric
    links = bisection_links(f)
    assert links.size == 2 * f.tile_rows  # one link each way per row
    x = f.node_x
    mid = 0.5 * (x[: f.n_tiles].min() + x[: f.n_tiles].max())
    assert np.all((x[f.link_src[links]] - mid) * (x[f.link_dst[links]] - mid) < 0)


def test_scene_4_highlights_the_hotspot_target():
    from app.scenes.runner import core_links
    from sim_core.workloads.traffic import SyntheticTraffic
    run = open_scene("4", fast=True)
    f = run.sims[0].fabric
    beat = next(b for b in run.scene.beats if b.set.get("pattern") == "hotspot")
    row, col = beat.highlight.core
    assert SyntheticTraffic(f, "hotspot", 0.1).hot == row * f.tile_cols + col  # the core the packets go to
    links = core_links(f, row, col)
    assert links.size == 8  # an inner core: four links in, four out


def test_scene_5_wafer_pane_animates_the_iteration_its_bar_times():
    # one truth: the pane's round is the pipelined schedule the chart's wafer bar times
    from app.model.scenario import build_simulation

    scene, st = study_of("5", fast=False)
    run = open_scene("5", fast=False)
    sim = build_simulation(run.initial_scenarios()[0])
    eng = sim.engine
    for _ in range(100):  # the workload starts its round on the first step, as in the window
        if sim.workload.last_round_s() is not None:
            break
        eng.step(0.01)
    animated_s = sim.workload.last_round_s()
    assert "pipelined" in sim.workload.algo_used
    assert animated_s == pytest.approx(st.values["wafer-wse2.iteration_s"], rel=1e-9)


def test_scene_2_names_its_patterns_as_the_beats_do():
    """The chart says "neighbour" and "all-to-all" (the beats' words), not the pattern ids "neighbor" and "uniform"."""
    scene, st = study_of("2")
    spec = chart_spec(st, scene.view.chart, -1)
    assert spec.legend == ["neighbour", "all-to-all"]
    text = " ".join(spec.visible_text())
    assert "neighbor " not in text and "uniform" not in text, text
