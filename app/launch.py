"""Start-up paths: the interactive window, an offscreen screenshot or state dump, the frame benchmark.

The screenshot and the benchmark drive the same ``MainWindow`` and ``Controller`` as the
interactive app, frame by frame (one controller advance, then Qt paints), so what they
measure and show is what users get.
"""
from __future__ import annotations

import json
import sys
import time

import numpy as np


def make_app():
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtWidgets import QApplication

    from app.ui.theme import apply_theme
    QCoreApplication.setOrganizationName("Meshscope")
    QCoreApplication.setApplicationName("Meshscope")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    apply_theme(app)
    return app


def _window(scene: str | None, size: str, settings=None, compare=True):
    from app.model.scenario import build_simulation, scenario_by_name
    from app.windows.main_layout import fit_docks
    from app.windows.main_window import MainWindow
    from app.windows.window_settings import load_saved_scenario
    sc = None
    if scene is None and settings is not None:
        sc = load_saved_scenario(settings)
    try:
        sim = build_simulation(sc or scenario_by_name(scene or "default"))
    except Exception:
        if sc is None:
            raise
        sim = build_simulation(scenario_by_name("default"))
    win = MainWindow(sim, settings, compare_on_start=compare)
    w, h = (int(v) for v in size.lower().split("x"))
    win.resize(w, h)
    fit_docks(win, w, h)
    return win


def open_window(scene: str | None, settings_path=None, size: str | None = None):
    """The interactive window on validated settings (``settings_path`` None: the user's).

    Corrupt settings are set aside and the window starts with defaults; the notice stays
    in the status bar until the user does something else.
    """
    from app.ui.settings_store import open_settings
    settings, notice = open_settings(settings_path)
    win = _window(scene, size or "1600x1000", settings)
    if size:  # an explicit --size wins over the remembered geometry
        w, h = (int(v) for v in size.lower().split("x"))
        win.resize(w, h)
    if notice:
        win.statusBar().showMessage(notice)
    return win


def run_window(scene: str | None, settings_path=None, size: str | None = None) -> int:
    from sim_core import SpecError
    app = make_app()
    try:
        win = open_window(scene, settings_path, size)
    except SpecError as exc:
        print(f"meshscope: {exc}", file=sys.stderr)
        return 2
    win.show()
    win.controller.play()
    return app.exec()


def _pump_frames(app, win, frames: int, frame_s: float = 1 / 60) -> list[float]:
    """Advance ``frames`` frames of ``frame_s`` wall time each; returns each frame's cost (s)."""
    costs = []
    c = win.controller
    c.play()
    c.timer.stop()  # we drive the frames ourselves, at a fixed wall step
    for _ in range(frames):
        t0 = time.perf_counter()
        c.advance(frame_s)
        app.processEvents()
        costs.append(time.perf_counter() - t0)
    return costs


def run_screenshot(scene: str, frames: int, path: str | None, size: str, dump_path: str | None = None,
                   speed: float | None = None) -> int:
    """Render ``frames`` frames offscreen (at ``speed``, default the scenario's); write the
    window picture and/or its state as JSON."""
    app = make_app()
    win = _window(scene, size, compare=True)
    win.show()
    if speed is not None:
        win.controller.set_speed(speed)
    app.processEvents()
    win.jobs.pool.waitForDone(120000)
    app.processEvents()
    _pump_frames(app, win, frames)
    if dump_path:
        finish_a_round(win)
        win.jobs.pool.waitForDone(120000)
        app.processEvents()
    win.refresh_plots()
    app.processEvents()
    ok = True
    if path:
        from app.ui.export import write_screenshot
        ok = write_screenshot(win, path)  # atomic: a failed write leaves any old picture in place
    if dump_path:
        ok = _dump(win, dump_path) and ok
    win.close()
    return 0 if ok else 1


def finish_a_round(win, max_steps: int = 1_000_000) -> None:
    """Headless: keep advancing (without drawing) until a round-based workload completed a round."""
    c, wl = win.controller, win.sim.workload
    if not hasattr(wl, "schedule_round"):
        return
    steps = 0
    while wl.last_round_s() is None and steps < max_steps:
        c.advance(1 / 60, budget_s=0.5)
        if c.state != "playing":  # a step failed: the error is on screen, stop here
            return
        steps += 1


def _dump(win, path: str) -> bool:
    import sys
    from app.windows.window_state import dump_state
    try:
        dump_state(win, path)
    except OSError as exc:
        print(f"meshscope: could not write {path}: {exc.strerror or exc}", file=sys.stderr)
        return False
    print(f"wrote {path}")
    return True


def run_benchmark(scene: str, frames: int, as_json: bool, size: str, speed: float | None = None) -> int:
    """Frame costs of the window as a 60 Hz timer drives it (a frame never advances less than 16 ms of wall)."""
    from app.ui.controller import FRAME_MS
    app = make_app()
    win = _window(scene, size, compare=False)
    win.show()
    app.processEvents()
    c = win.controller
    if speed is not None:
        c.set_speed(speed)
    _pump_frames(app, win, 90)  # warm-up: caches, first collective scheduled
    paints = _count_paints(win.view)
    drawn, moving, costs = [], [], []
    shown_s, wall_s = 0.0, 0.0
    last = time.perf_counter()
    for _ in range(frames):
        t0 = time.perf_counter()
        wall = min(max(t0 - last, FRAME_MS / 1000.0), 0.1)  # what the app's timer would hand the controller
        last = t0
        before = c.display_t
        c.advance(wall)
        app.processEvents()
        costs.append(time.perf_counter() - t0)
        shown_s += c.display_t - before
        wall_s += max(costs[-1], FRAME_MS / 1000.0)
        p = win.view.last_particles
        drawn.append(int(p.x.size) if p is not None else 0)
        moving.append(int(p.moving.sum()) if p is not None else 0)
    ms = np.array(costs) * 1e3
    out = {
        "scene": scene,
        "fps": round(frames / (ms.sum() / 1e3), 1),
        "median_frame_ms": round(float(np.median(ms)), 2),
        "p95_frame_ms": round(float(np.percentile(ms, 95)), 2),
        "max_frame_ms": round(float(ms.max()), 2),
        "requested_speed": c.speed,
        "achieved_speed": round(shown_s / max(wall_s, 1e-9) / win.sim.sim_rate_s, 4),
        # chunks drawn: every live chunk, on a wire or waiting in a queue tail; moving: those
        # mid-flight at the frame's instant. On a lock-step all-reduce frames often land on an
        # arrival instant, where every chunk is drawn and none is mid-flight.
        "chunks_drawn": int(np.median(drawn)),
        "chunks_drawn_min": int(np.min(drawn)),
        "chunks_moving": int(np.median(moving)),
        "chunks_moving_min": int(np.min(moving)),
        "links": int(win.sim.fabric.n_links),
        "chips": int(win.sim.fabric.n_chips),
        "frames": frames,
        "paints": paints[0],
        "sim_time_s": c.engine.now_s,
        "bounded_advance": hasattr(c.engine, "advance"),
        "window": size,
    }
    win.close()
    if as_json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k:18s} {v}")
    return 0


def _count_paints(widget) -> list[int]:
    """A live counter of paint events on ``widget``'s viewport (proof that frames were drawn)."""
    from PySide6.QtCore import QEvent, QObject
    counter = [0]

    class _Counter(QObject):
        def eventFilter(self, obj, ev):
            if ev.type() == QEvent.Paint:
                counter[0] += 1
            return False

    f = _Counter(widget)
    widget.viewport().installEventFilter(f)
    return counter
