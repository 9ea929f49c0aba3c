"""The clock on the toolbar: simulated time, the speed asked for and the speed achieved.

Two lines: the simulated time, large; under it the requested speed, the achieved speed
when the engine could not keep up, what one wall-clock second shows, and packets refused
at full source queues; the time line says how much simulated time was skipped because
nothing moved in it (``Controller.skipped_s``). ``compute_note`` says when devices are computing (a training
workload's compute phases move no particles, and must not look frozen).
"""
from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QLabel

from app.model import render_model as rm


def clock_lines(display_t: float, speed: float, achieved: float, rate_s: float, limited: bool,
                refused: int, skipped_s: float = 0.0) -> tuple[str, str]:
    """(time line, speed line) in plain numbers: 't = 12.3 us', '64x (achieved 12x): 1 s shows 640 us';
    the time line adds how much was skipped where nothing moved ('t = 0.31 s (0.28 s skipped: no data moving)')."""
    shown = achieved if limited else speed
    got = f" (achieved {rm.format_speed(achieved)})" if limited else ""
    full = f"; {refused:,} packets refused (source queues full)" if refused else ""
    skip = f" ({rm.format_time(skipped_s)} skipped: no data moving)" if skipped_s > 0 else ""
    return (f"t = {rm.format_time(display_t)}{skip}",
            f"{rm.format_speed(speed)}{got}: 1 s shows {rm.format_time(shown * rate_s)}{full}")


def compute_note(sim) -> str:
    """'computing on 12 of 16 devices' while any device computes in a training workload, else ''."""
    if getattr(sim.workload, "kind", "") != "training":
        return ""
    busy = np.asarray(sim.engine.node_busy_fraction())
    nodes = np.flatnonzero(busy > 0)
    if nodes.size == 0:
        return ""
    f = sim.fabric
    chips = np.unique(np.asarray(f.node_chip)[nodes])
    chips = chips[chips >= 0]
    n = int(chips.size) if chips.size else int(nodes.size)
    return f"computing on {n:,} of {rm.plural(int(f.n_chips), 'device')}"


class ClockDisplay(QLabel):
    """The toolbar clock (rich text, two lines)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("clock")
        self.setToolTip("Simulated time since reset; the playback speed asked for and, when the simulation "
                        "cannot keep up, the speed achieved; and how much simulated time one second shows")
        self.lines = ("", "")

    def show_state(self, controller, sim) -> None:
        c = controller
        self.lines = clock_lines(c.display_t, c.speed, c.achieved_speed, sim.sim_rate_s, c.sim_limited,
                                 int(c.engine.messages_refused), c.skipped_s)
        self.setText(f"<b>{self.lines[0]}</b><br><small>{self.lines[1]}</small>")

    def plain_text(self) -> str:
        return "  ".join(self.lines)
