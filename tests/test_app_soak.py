"""A short app soak (app/soak.py): a few hundred painted frames of the heaviest scene at 32x.

The full soak (``python -m benchmarks.app_soak --minutes 30``) covers 30 minutes of 1x presenting; this
one checks the same figures on a slice of it: no graphics items or QObjects pile up, the
engine's arrays keep their size, and memory (beyond the bounded rewind history) stays flat.
"""
from __future__ import annotations

import pytest

from app_fixtures import active_timers  # noqa: E402

from PySide6.QtWidgets import QApplication  # noqa: E402

pytestmark = pytest.mark.qt_log_ignore("does not support propagateSizeHints", "does not support raise")


@pytest.mark.parametrize("content", ["scenes/4-congestion.toml", "wafer-hotspot"])
def test_short_soak_is_flat(qapp, content):
    from benchmarks.app_soak import soak, verdict
    out = soak(QApplication.instance(), content, minutes=30, speed=32, max_frames=200, samples=20)
    assert out["frames_painted"] == 200
    assert out["paint_events"] >= 200 * 0.9, "frames were not painted"
    assert out["sim_time_covered_s"] > 0
    assert out["items_min_max"][0] == out["items_min_max"][1], out
    assert out["qobjects_min_max"][0] == out["qobjects_min_max"][1], out
    lo, hi = out["engine_MB_second_half_min_max"]
    assert hi <= 1.1 * lo + 1.0, out  # pools grow once while the load ramps up; after that they must not climb
    assert out["rss_growth_second_half_ex_history_pct"] < 5, out
    assert verdict(out) == []
    for w in QApplication.topLevelWidgets():
        assert not active_timers(w), f"a QTimer is still running in {w}"
