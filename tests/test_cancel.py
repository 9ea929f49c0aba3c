"""Long studies stop promptly when the GUI cancels them, and run normally otherwise."""
import threading
import time

import pytest

from sim_core.cancel import CancelToken, Cancelled, cancellable
from sim_core.workloads.training import compare


def test_a_cancelled_compare_stops_within_moments():
    token = CancelToken()
    result = {}

    def work():
        try:
            with cancellable(token):
                compare("gpt3-175b", tokens=300e9)
            result["outcome"] = "finished"
        except Cancelled:
            result["outcome"] = "cancelled"

    worker = threading.Thread(target=work)
    worker.start()
    time.sleep(0.5)
    token.cancel()
    worker.join(timeout=60)  # a hang guard, not a speed figure
    assert not worker.is_alive()
    assert result["outcome"] == "cancelled"


def test_work_outside_a_cancellable_block_is_unaffected():
    token = CancelToken()
    token.cancel()
    rows = compare("bert-large", presets=["dgx-a100"], epochs=1)  # no token in this context
    assert rows and "iteration_s" in rows[0]
    with pytest.raises(Cancelled), cancellable(token):
        compare("bert-large", presets=["dgx-a100"], epochs=1)
