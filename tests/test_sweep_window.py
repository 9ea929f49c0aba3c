"""The sweep results chart: the table model (Qt-free) and the window's picks."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from app.model.sweep_table import SweepTable, pareto_front  # noqa: E402
from sim_core.sweep import store  # noqa: E402
from sim_core.sweep.grid import load_grid  # noqa: E402
from sim_core.sweep.worker import run_point  # noqa: E402

pytestmark = pytest.mark.qt_log_ignore("does not support propagateSizeHints", "does not support raise")
GRID = {"schema_version": 1, "command": "train",
        "fixed": {"model": "gpt", "layers": 2, "hidden": 256, "heads": 4, "seq": 128, "vocab": 1000, "batch": 16,
                  "tokens": 1e9},
        "vary": {"arch": ["dgx-a100", "dgx-h100"], "nodes": [1, 2], "tp": [1, 2, 16]}}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """A results file of 12 real points (2 refused), written as the sweep writes it."""
    grid = load_grid(GRID)
    path = tmp_path_factory.mktemp("sweep") / "results.csv"
    store.write_rows(path, [run_point(p) for p in grid.iter_points()], list(grid.columns))
    return path


def test_table_inputs_outputs_and_heatmap(results):
    t = SweepTable.load(results)
    assert t.inputs[:3] == ["arch", "nodes", "tp"] and t.varied_inputs() == ["arch", "nodes", "tp"]
    assert {"iteration_s", "energy_J", "time_to_train_s"} <= set(t.outputs) and "point" not in t.outputs
    hm = t.heatmap("nodes", "tp", "iteration_s")
    assert hm.x_values == [1, 2] and hm.y_values == [1, 2, 16] and hm.values.shape == (3, 2)
    assert np.isnan(hm.values[2, 0]) and hm.rows[2, 0] == -1  # tp 16 on 8 devices is refused on both archs
    times = t.column("iteration_s")
    for j, tp in enumerate(hm.y_values):
        for i, nodes in enumerate(hm.x_values):
            same = [k for k, r in enumerate(t.rows) if r["nodes"] == nodes and r["tp"] == tp and r["error"] is None]
            if same:
                assert hm.values[j, i] == min(times[same]) and t.rows[hm.rows[j, i]]["iteration_s"] == hm.values[j, i]
    assert t.config(int(hm.rows[0, 0]))["command"] == "train"
    assert t.default_scatter() == ("time_to_train_s", "energy_J")


def test_pareto_front_is_what_no_other_point_beats():
    rng = np.random.default_rng(3)
    xs, ys = rng.random(300), rng.random(300)
    xs[:5], ys[:5] = xs[5], ys[5]  # ties: equal points beat neither
    brute = [i for i in range(300) if not any((xs[j] <= xs[i] and ys[j] <= ys[i]) and (xs[j] < xs[i] or ys[j] < ys[i])
                                              for j in range(300))]
    front = pareto_front(xs, ys)
    assert set(brute) - set(front.tolist()) == set()
    assert len(set(zip(xs[front], ys[front]))) == len(front)  # one of each tied pair
    assert np.all(np.diff(xs[front]) >= 0) and np.all(np.diff(ys[front]) <= 0)


def test_window_picks_a_cell_and_a_point(qtbot, results):
    from app.windows.sweep_window import SCATTER, SweepWindow

    picked = []
    t = SweepTable.load(results)
    win = SweepWindow(t, on_pick=picked.append)
    qtbot.addWidget(win)
    win.show()
    win.x_input.setCurrentText("nodes")
    win.y_input.setCurrentText("tp")
    win.z_output.setCurrentText("iteration_s")
    assert win.heat.values.shape == (3, 2) and win.image.image.shape == (3, 2)
    with qtbot.waitSignal(win.point_picked) as signal:
        config = win.pick_cell(1, 0)
    assert config == t.config(int(win.heat.rows[0, 1])) and picked == [config] and signal.args == [config]
    assert config["nodes"] == 2 and config["tp"] == 1
    assert win.pick_cell(0, 2) is None  # an empty (refused) cell picks nothing
    win.mode.setCurrentText(SCATTER)
    assert win.x_output.currentText() == "time_to_train_s" and win.y_output.currentText() == "energy_J"
    spots = win.front_points.points()
    assert 1 <= len(spots) <= len(win.points.points()) == 10
    win._on_point_clicked(win.front_points, [spots[0]])
    assert picked[-1] == t.config(int(spots[0].data()))
    win.close()


def test_a_mouse_click_on_a_heatmap_cell_opens_its_point(qtbot, results):
    from PySide6.QtCore import QPointF, Qt

    from app.windows.sweep_window import SweepWindow

    picked = []
    win = SweepWindow(SweepTable.load(results), on_pick=picked.append)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    win.x_input.setCurrentText("nodes")
    win.y_input.setCurrentText("tp")
    where = win.plot.mapFromScene(win.plot.getPlotItem().vb.mapViewToScene(QPointF(1, 0)))
    qtbot.mouseClick(win.plot.viewport(), Qt.LeftButton, pos=where)
    qtbot.waitUntil(lambda: bool(picked))
    assert picked[0] == win.table.config(int(win.heat.rows[0, 1])) and (picked[0]["nodes"], picked[0]["tp"]) == (2, 1)
    win.close()


def test_open_bad_results_is_a_message_not_a_crash(qtbot, tmp_path, monkeypatch):
    from app.windows import sweep_window

    shown = []
    monkeypatch.setattr(sweep_window.QMessageBox, "warning", lambda parent, title, text: shown.append(text))
    bad = tmp_path / "other.csv"
    bad.write_text("a,b\n1,2\n")
    assert sweep_window.open_sweep_results(None, bad, on_pick=None) is None
    assert len(shown) == 1 and "has no `point` column" in shown[0]


def test_a_clicked_point_becomes_a_scenario_the_main_view_builds():
    from app.model.scenario import SCENARIOS, build_simulation
    from app.model.sweep_table import scenario_for_point
    base = SCENARIOS["default"]
    sim = build_simulation(scenario_for_point({"command": "collective", "arch": "dgx-h100", "nodes": 2,
                                               "op": "allreduce", "bytes": 8e6}, base))
    assert sim.spec.id == "dgx-h100" and sim.fabric.n_chips == 16 and sim.scenario.workload == "collective"
    sim = build_simulation(scenario_for_point({"command": "train", "arch": "dgx-a100", "nodes": 1,
                                               "model": "bert-large"}, base))
    assert sim.scenario.workload == "training" and sim.workload.model.id == "bert-large"
