"""The one clock of the app: a QTimer that advances the simulation, then asks for one draw.

State machine: ``stopped`` (timer idle), ``playing`` (timer runs; each tick moves the
display time on by wall time x speed x rate, advances the engine towards it within the
frame's simulation budget, then emits ``frame``), ``stepping`` (one step in progress,
back to ``stopped`` after). An exception inside the engine stops the run and is
reported through ``error``; the timer object lives on.

Bounded work per frame: an engine with ``advance(until_s, max_events=N)`` is asked for
at most N events per call, N adapted so a call stays well inside the budget; an engine
with ``step(dt)`` only gets steps whose size adapts the same way. When the budget runs
out first the display shows the time reached (``sim_limited``), never a backlog, and
``achieved_speed`` says what the screen really showed over the last second.

The display time lags the engine by at most one step; particles are drawn at the
display time, interpolated along their links, so slow motion stays smooth.

Idle spans are skipped: when no chunk is live, the engine runs ahead over the events that
move nothing (``Engine.advance_quiet``: compute tasks ending, dependencies releasing work)
up to the first release that puts chunks on the fabric; when that span is longer than
``IDLE_SKIP_WALL_S`` of playback, the display jumps to its end and ``skipped_s`` grows, so
a training iteration's compute phase (hours at 1x) takes a moment and the clock says how
much was skipped. The engine processes the same events either way. Only a main window's
schedule-driven workload skips: a traffic generator injects as time passes, and panes in
lock-step would each need the same span quiet.
"""
from __future__ import annotations

import math
import time
import traceback
from collections import deque

from PySide6.QtCore import QObject, QTimer, Signal

STOPPED, PLAYING, STEPPING = "stopped", "playing", "stepping"
# Playback speeds: 1-2-5 steps from 1/1000x to 10,000x, so the display always reads a
# plain number ("1/200x", "0.5x", "64x" never becomes "1/1.64x").
SPEEDS = tuple(m * 10.0 ** e for e in range(-3, 5) for m in (1, 2, 5) if m * 10.0 ** e <= 1e4)
SPEED_MIN, SPEED_MAX = SPEEDS[0], SPEEDS[-1]
FRAME_MS = 16
SIM_BUDGET_S = 0.012
EVENTS_START, EVENTS_MIN, EVENTS_MAX = 4096, 64, 1 << 22
ACHIEVED_WINDOW_S = 1.0
SNAPSHOT_BUDGET_BYTES = 100e6  # rewind history; 400 MB was most of a laptop presenter's memory
SNAPSHOT_MIN_WALL_S = 0.12
SNAPSHOT_MAX_FRAME_S = 0.03
SNAPSHOT_MAX_CHIPS = 256
HISTORY_MAX = 300
IDLE_SKIP_WALL_S = 0.5  # a span with nothing moving longer than this on screen is skipped
SKIP_HORIZON_WALL_S = 600.0  # at most this much playback skipped per frame (the next frame goes on)


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
        self.speed = nearest_speed(sim.scenario.speed)
        self.sim_limited = False
        self.skip_idle = True
        self.skipped_s = 0.0  # simulated seconds jumped over since the last reset (nothing moved in them)
        self.last_frame_sim_s = 0.0
        self.achieved_speed = self.speed
        self._rate_log: deque = deque()  # (wall_s, simulated s shown) of recent frames
        self._last_dt = float(sim.step_s)
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
        self.skipped_s = 0.0
        self._events, self._dt_cap = EVENTS_START, float("inf")
        self._snap_cost = 0.0
        self._rate_log.clear()
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
                self.skipped_s = min(self.skipped_s, self.display_t)
                self.frame.emit()
                return True
        return False

    def reset(self) -> None:
        """Back to time zero: the same scenario, replayed from the start."""
        for s in [self.sim, *self.followers]:
            s.engine.reset()
            s.workload.set_state(s.workload.initial_state())
        self.display_t = 0.0
        self.skipped_s = 0.0
        self.history.clear()
        self._history_bytes = 0
        self.frame.emit()

    def set_speed(self, speed: float) -> None:
        """Play at the ladder speed nearest ``speed`` (on a log scale)."""
        self.speed = nearest_speed(speed)
        self._rate_log.clear()
        self.speed_changed.emit(self.speed)

    def faster(self) -> None:
        self.set_speed(SPEEDS[min(speed_index(self.speed) + 1, len(SPEEDS) - 1)])

    def slower(self) -> None:
        self.set_speed(SPEEDS[max(speed_index(self.speed) - 1, 0)])

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
        """Advance the display by ``wall_s`` of wall time at the current speed, within
        ``budget_s`` of work, then draw."""
        span = wall_s * self.speed * self.sim.sim_rate_s
        skipped = self._skip_idle()
        target = self.display_t + span
        self._push_snapshot()
        ok, self.sim_limited = self._advance_engine(target, time.perf_counter() + budget_s)
        if not ok:
            return
        shown = min(target, self.engine.now_s)
        self.last_frame_sim_s = shown - self.display_t + skipped
        self.display_t = shown
        self._log_rate(wall_s, self.last_frame_sim_s - skipped)  # the achieved speed is of what was played
        self.frame.emit()

    def _skip_idle(self) -> float:
        """Jump the display over a span where nothing moves (see the module docstring);
        returns the simulated seconds skipped (0 when nothing was)."""
        eng = self.engine
        if not self.skip_idle or self.followers or not hasattr(self.sim.workload, "schedule_round") \
                or not hasattr(eng, "advance_quiet"):
            return 0.0  # panes in lock-step would each need the same span quiet; generators inject as time passes
        if eng.now_s > self.display_t or eng.quiet_until_s() <= eng.now_s:
            return 0.0
        per_wall_s = self.speed * self.sim.sim_rate_s
        until = self.display_t + SKIP_HORIZON_WALL_S * per_wall_s
        if not self._guarded(lambda: eng.advance_quiet(until, max_events=self._events)):
            return 0.0
        gap = eng.now_s - self.display_t
        if gap <= IDLE_SKIP_WALL_S * per_wall_s:
            return 0.0  # a short pause plays as it is (the engine is a little ahead; nothing moved)
        self.display_t = eng.now_s
        self.skipped_s += gap
        return gap

    def _advance_engine(self, target: float, deadline: float) -> tuple[bool, bool]:
        """Move every pane's engine towards ``target`` until ``deadline`` (perf_counter);
        returns (no error, stopped by the deadline)."""
        eng = self.engine
        bounded = hasattr(eng, "advance")
        while eng.now_s < target:
            if time.perf_counter() >= deadline:
                return True, True
            t0 = time.perf_counter()
            if bounded:
                ok = self._guarded(lambda: self._advance_bounded(target))
            else:
                dt = min(max(self.sim.step_s, (target - eng.now_s) / 8.0), max(self._dt_cap, self.sim.step_s))
                ok = self._guarded_step(dt)
            if not ok:
                return False, False
            self._adapt(time.perf_counter() - t0, deadline - t0, bounded)
        return True, False

    def _advance_bounded(self, target: float) -> None:
        reached = self.engine.advance(target, max_events=self._events)
        for f in self.followers:  # lock-step: every pane reaches the same simulated time
            f.engine.advance(reached)

    def _adapt(self, cost_s: float, left_s: float, bounded: bool) -> None:
        """Size the next call so it takes about a quarter of the budget left (never the whole frame)."""
        if bounded:
            if cost_s < left_s / 8:
                self._events = min(self._events * 2, EVENTS_MAX)
            elif cost_s > left_s / 2:
                self._events = max(self._events // 2, EVENTS_MIN)
        elif cost_s > left_s / 2:
            self._dt_cap = max(self.sim.step_s, min(self._dt_cap, self._last_dt) / 2)
        elif cost_s < left_s / 8 and self._dt_cap < float("inf"):
            self._dt_cap *= 2

    def _log_rate(self, wall_s: float, sim_s: float) -> None:
        log = self._rate_log
        log.append((wall_s, sim_s))
        while len(log) > 2 and sum(w for w, _ in log) - log[0][0] >= ACHIEVED_WINDOW_S:
            log.popleft()
        wall = sum(w for w, _ in log)
        if wall > 0 and self.sim.sim_rate_s > 0:
            self.achieved_speed = sum(v for _, v in log) / wall / self.sim.sim_rate_s

    def _guarded(self, work) -> bool:
        try:
            work()
            return True
        except Exception as exc:  # the run stops, the app does not
            self.pause()
            self.error.emit(f"Simulation stopped: {type(exc).__name__}: {exc}", traceback.format_exc())
            return False

    def _guarded_step(self, dt: float) -> bool:
        self._last_dt = dt

        def work():
            self.engine.step(dt)
            for f in self.followers:  # lock-step: one clock, the same dt for every pane
                f.engine.step(dt)
        return self._guarded(work)

    def _push_snapshot(self, force: bool = False) -> None:
        wall = time.perf_counter()
        # Big fabrics snapshot slowly: space snapshots so they take at most ~5% of the time, and
        # take none while playing where one would break the frame budget (a whole pod: ~1 s
        # each); a single step still keeps one, so step-back works there too.
        if not force and (self._snap_cost > SNAPSHOT_MAX_FRAME_S or self.sim.fabric.n_chips > SNAPSHOT_MAX_CHIPS
                          or wall - self._last_snap_wall < max(SNAPSHOT_MIN_WALL_S, 20 * self._snap_cost)):
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


def speed_index(speed: float) -> int:
    """Index in ``SPEEDS`` of the ladder speed nearest ``speed`` on a log scale."""
    v = min(max(float(speed), SPEED_MIN), SPEED_MAX) if math.isfinite(float(speed)) else 1.0
    return min(range(len(SPEEDS)), key=lambda i: abs(math.log(SPEEDS[i] / v)))


def nearest_speed(speed: float) -> float:
    return SPEEDS[speed_index(speed)]
