"""Long studies stop promptly when the GUI cancels them, and run normally otherwise."""
import threading
import time

import pytest

from sim_core.cancel import CancelToken, Cancelled, cancellable
from sim_core.workloads.training import compare


def test_a_cancelled_compare_stops_within_moments():
    # cancelled from another thread once the study is under way (its first progress line),
    # so the outcome never depends on how fast this machine runs the study
    token = CancelToken()
    started = threading.Event()
    result = {"lines": 0}

    def progress(_msg):
        result["lines"] += 1
        started.set()
        time.sleep(0.05)  # let the cancelling thread run before the next simulation

    def work():
        try:
            with cancellable(token):
                compare("gpt3-175b", tokens=300e9, progress=progress)
            result["outcome"] = "finished"
        except Cancelled:
            result["outcome"] = "cancelled"

    worker = threading.Thread(target=work)
    worker.start()
    assert started.wait(timeout=60)
    token.cancel()
    worker.join(timeout=60)  # a hang guard, not a speed figure
    assert not worker.is_alive()
    assert result["outcome"] == "cancelled"
    assert result["lines"] < 10  # it stopped early, not after the whole comparison (~30 lines)


def test_work_outside_a_cancellable_block_is_unaffected():
    token = CancelToken()
    token.cancel()
    rows = compare("bert-large", presets=["dgx-a100"], epochs=1)  # no token in this context
    assert rows and "iteration_s" in rows[0]
    with pytest.raises(Cancelled), cancellable(token):
        compare("bert-large", presets=["dgx-a100"], epochs=1)
