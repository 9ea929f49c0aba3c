"""Closing a window while a long study runs does not block it: the job is cancelled."""
import os
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from app.workers import JobRunner  # noqa: E402
from sim_core.training import compare  # noqa: E402


def test_shutdown_cancels_a_running_compare_promptly(qtbot):
    runner = JobRunner()
    outcome = []
    runner.submit("compare", lambda progress: compare("gpt3-175b", tokens=300e9),
                  on_done=lambda r: outcome.append("done"), on_error=lambda m, d: outcome.append(m))
    qtbot.waitUntil(lambda: runner.busy, timeout=2000)
    time.sleep(0.5)
    t0 = time.perf_counter()
    runner.shutdown()
    assert time.perf_counter() - t0 < 3.0
    assert runner.pool.activeThreadCount() == 0
