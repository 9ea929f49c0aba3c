"""The one clock of the app: a QTimer that runs simulator steps, then asks for one draw.

State machine: ``stopped`` (timer idle), ``playing`` (timer runs; each tick advances the
display time by wall time x speed x rate, runs engine steps until the engine has caught
up or the frame's simulation budget is spent, then emits ``frame``), ``stepping`` (one
step in progress, back to ``stopped`` after). An exception inside a step stops the run
and is reported through ``error``; the timer object lives on.

The display time lags the engine by at most one step; particles are drawn at the
display time, interpolated along their links, so slow motion stays smooth.
"""
from __future__ import annotations

import time
import traceback
from collections import deque

from PySide6.QtCore import QObject, QTimer, Signal

STOPPED, PLAYING, STEPPING = "stopped", "playing", "stepping"
SPEED_MIN, SPEED_MAX = 1e-3, 1e4
FRAME_MS = 16
SIM_BUDGET_S = 0.007
SNAPSHOT_BUDGET_BYTES = 400e6
SNAPSHOT_MIN_WALL_S = 0.12
HISTORY_MAX = 300


class Controller(QObject):
    """Owns the simulation clock. Views listen to ``frame``; actions call the slots."""

    frame = Signal()
    state_changed = Signal(str)
    simulation_changed = Signal()
    speed_changed = Signal(float)
    error = Signal(str, str)  # one-line message, details (traceback)

    def __init__(self, sim, parent: QObject | None = None):
        super().__init__(parent)
        self.timer = QTimer(self)
        self.timer.setInterval(FRAME_MS)
        self.timer.timeout.connect(self._on_tick)
        self.state = STOPPED
        self.speed = float(sim.scenario.speed)
        self.sim_limited = False
        self.last_frame_sim_s = 0.0
        self._last_wall = None
        self._last_snap_wall = 0.0
        self._snap_cost = 0.0
        self.set_simulation(sim)

    # ------------------------------------------------------------------ setup
    def set_simulation(self, sim) -> None:
        """Swap in a new simulation (architecture or workload changed); keeps play state."""
        self.sim = sim
        self.engine = sim.engine
        self.followers = []  # further simulations on the same clock (side-by-side panes)
        self.display_t = 0.0
        self.history: deque = deque()
        self._history_bytes = 0
        self.simulation_changed.emit()
        self.frame.emit()

    # ------------------------------------------------------------------ actions
    def play(self) -> None:
        if self.state == PLAYING:
            return
        self._last_wall = time.perf_counter()
        self._set_state(PLAYING)
        self.timer.start()

    def pause(self) -> None:
        self.timer.stop()
        self._set_state(STOPPED)

    def toggle(self) -> None:
        self.pause() if self.state == PLAYING else self.play()

    def step(self) -> None:
        """Exactly one engine step of ``sim.step_s``; pauses a running simulation first."""
        self.pause()
        self._set_state(STEPPING)
        self._push_snapshot(force=True)
        ok = self._guarded_step(self.sim.step_s)
        self.display_t = self.engine.now_s
        self._set_state(STOPPED)
        if ok:
            self.frame.emit()

    def step_back(self) -> bool:
        """Rewind to the latest kept snapshot before now; False if none is left (or panes are locked)."""
        self.pause()
        if self.followers:
            return False  # snapshots hold the first pane only; rewinding it alone would break lock-step
        while self.history:
            snap, wstate, t = self.history.pop()
            self._history_bytes -= _snap_bytes(snap)
            if t < self.engine.now_s or not self.history:
                self.engine.restore(snap)
                self.sim.workload.set_state(wstate)
                self.display_t = self.engine.now_s
                self.frame.emit()
                return True
        return False

    def reset(self) -> None:
        """Back to time zero: the same scenario, replayed from the start."""
        for s in [self.sim, *self.followers]:
            s.engine.reset()
            s.workload.set_state(s.workload.initial_state())
        self.display_t = 0.0
        self.history.clear()
        self._history_bytes = 0
        self.frame.emit()

    def set_speed(self, speed: float) -> None:
        self.speed = min(max(float(speed), SPEED_MIN), SPEED_MAX)
        self.speed_changed.emit(self.speed)

    def faster(self) -> None:
        self.set_speed(self.speed * 2.0)

    def slower(self) -> None:
        self.set_speed(self.speed / 2.0)

    def shutdown(self) -> None:
        """Stop the timer for good (window closing, tests)."""
        self.timer.stop()
        self.state = STOPPED

    # ------------------------------------------------------------------ the tick
    def _on_tick(self) -> None:
        now = time.perf_counter()
        wall = min(now - (self._last_wall or now), 0.1)  # a stalled frame must not jump
        self._last_wall = now
        self.advance(wall or FRAME_MS / 1000.0)

    def advance(self, wall_s: float, budget_s: float = SIM_BUDGET_S) -> None:
        """Advance the display by ``wall_s`` of wall time at the current speed, then draw."""
        target = self.display_t + wall_s * self.speed * self.sim.sim_rate_s
        t0 = time.perf_counter()
        self._push_snapshot()
        # Large speed-ups take bigger steps (results do not depend on dt), in at most ~8 per frame.
        dt = max(self.sim.step_s, (target - self.engine.now_s) / 8.0)
        self.sim_limited = False
        while self.engine.now_s < target:
            if time.perf_counter() - t0 > budget_s:
                self.sim_limited = True
                break
            if not self._guarded_step(dt):
                return
        self.last_frame_sim_s = min(target, self.engine.now_s) - self.display_t
        self.display_t = min(target, self.engine.now_s)
        self.frame.emit()

    def _guarded_step(self, dt: float) -> bool:
        try:
            self.engine.step(dt)
            for f in self.followers:  # lock-step: one clock, the same dt for every pane
                f.engine.step(dt)
            return True
        except Exception as exc:  # the run stops, the app does not
            self.pause()
            self.error.emit(f"Simulation stopped: {type(exc).__name__}: {exc}", traceback.format_exc())
            return False

    def _push_snapshot(self, force: bool = False) -> None:
        wall = time.perf_counter()
        # Big fabrics snapshot slowly: space snapshots so they take at most ~5% of the time.
        if not force and wall - self._last_snap_wall < max(SNAPSHOT_MIN_WALL_S, 20 * self._snap_cost):
            return
        self._last_snap_wall = wall
        snap = self.engine.snapshot()
        self._snap_cost = time.perf_counter() - wall
        self.history.append((snap, self.sim.workload.state(), self.engine.now_s))
        self._history_bytes += _snap_bytes(snap)
        while self.history and (len(self.history) > HISTORY_MAX or self._history_bytes > SNAPSHOT_BUDGET_BYTES):
            old = self.history.popleft()
            self._history_bytes -= _snap_bytes(old[0])

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.state_changed.emit(state)


def _snap_bytes(snap: dict) -> int:
    return sum(getattr(v, "nbytes", 0) for v in snap.values())
