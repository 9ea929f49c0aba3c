"""Background work can be stopped: closing a window or pressing Cancel never blocks or loses the scene."""
import os
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402

from app.ui.workers import JobRunner  # noqa: E402
from app_fixtures import run_frames, window  # noqa: E402,F401
from sim_core.workloads.training import compare  # noqa: E402

pytestmark = pytest.mark.qt_log_ignore("does not support propagateSizeHints", "does not support raise")


def test_shutdown_cancels_a_running_compare_promptly(qtbot):
    import threading
    runner = JobRunner()
    outcome = []
    started = threading.Event()

    def study(progress):
        def line(msg):  # the study is under way: shut down now (never a race with its speed)
            started.set()
            time.sleep(0.05)
        return compare("gpt3-175b", tokens=300e9, progress=line)

    runner.submit("compare", study, on_done=lambda r: outcome.append("done"), on_error=lambda m, d: outcome.append(m))
    assert started.wait(timeout=60)
    t0 = time.perf_counter()
    runner.shutdown()
    print(f"shutdown took {time.perf_counter() - t0:.2f} s")  # a figure, not an assertion: CI machines vary
    assert runner.pool.activeThreadCount() == 0
    qtbot.wait(50)
    assert "done" not in outcome  # stopped at a progress point, not run to the end


def test_cancel_button_stops_a_rebuild_and_the_scene_keeps_running(window, qtbot):
    from app.model.scenario import SCENARIOS

    before = window.sim
    window.request_scenario(SCENARIOS["dgx16"])
    qtbot.waitUntil(lambda: window.cancel_action.isVisible(), timeout=3000)
    qtbot.mouseClick(window.cancel_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not window.jobs.busy, timeout=5000)
    assert window.sim is before and not window.cancel_action.isVisible()
    t0 = window.controller.engine.now_s
    run_frames(window, 5)
    assert window.controller.engine.now_s > t0


def test_refused_packets_are_said_on_screen(window, monkeypatch):
    eng = window.controller.engine
    monkeypatch.setattr(type(eng), "messages_refused", property(lambda self: 1234), raising=False)
    window._update_clock()
    assert "1,234 packets refused" in window.clock.text()


def test_a_4096_gpu_cluster_runs_live_with_one_tensor_but_not_with_a_collective():
    from app.model.scenario import SCENARIOS, build_simulation, live_limit_message
    from sim_core import load_architecture

    spec = load_architecture("dgx-a100")
    light = SCENARIOS["cluster4096"]
    assert live_limit_message(light, spec) is None
    sim = build_simulation(light)
    assert sim.fabric.n_chips == 4096
    for _ in range(20):
        sim.engine.step(sim.step_s)
    assert sim.engine.bytes_in_flight > 0
    heavy = light.replace(workload="collective", params={"op": "allreduce", "algo": "ring", "nbytes": 8e6})
    assert "at most 512" in live_limit_message(heavy, spec)
    assert "at most 256" in live_limit_message(heavy.replace(workload="training", params={}), spec)


@pytest.mark.parametrize("args,needle", [
    (["--benchmark", "--frames", "-5"], "allowed whole numbers"),
    (["--size", "10x"], "WIDTHxHEIGHT"),
    (["--scene", "default", "--frames", "2", "--screenshot", "/nonexistent/dir/x.png"], "cannot write in /nonexistent/dir"),
])
def test_bad_app_arguments_end_in_one_clear_line(args, needle):
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert needle in out.stderr
