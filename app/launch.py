"""Start-up paths: the interactive window, an offscreen screenshot, the frame benchmark.

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
    from app.windows.main_window import MainWindow, load_saved_scenario
    from app.model.scenario import build_simulation, scenario_by_name
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
    return win


def open_window(scene: str | None, settings_path=None, size: str = "1600x1000"):
    """The interactive window on validated settings (``settings_path`` None: the user's).

    Corrupt settings are set aside and the window starts with defaults; the notice stays
    in the status bar until the user does something else.
    """
    from app.ui.settings_store import open_settings
    settings, notice = open_settings(settings_path)
    win = _window(scene, size, settings)
    if notice:
        win.statusBar().showMessage(notice)
    return win


def run_window(scene: str | None, settings_path=None) -> int:
    from sim_core import SpecError
    app = make_app()
    try:
        win = open_window(scene, settings_path)
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


def run_screenshot(scene: str, frames: int, path: str, size: str) -> int:
    app = make_app()
    win = _window(scene, size, compare=True)
    win.show()
    app.processEvents()
    win.jobs.pool.waitForDone(60000)
    app.processEvents()
    _pump_frames(app, win, frames)
    win.refresh_plots()
    app.processEvents()
    from app.ui.export import write_screenshot
    ok = write_screenshot(win, path)  # atomic: a failed write leaves any old picture in place
    win.close()
    return 0 if ok else 1


def run_benchmark(scene: str, frames: int, as_json: bool, size: str) -> int:
    app = make_app()
    win = _window(scene, size, compare=False)
    win.show()
    app.processEvents()
    _pump_frames(app, win, 90)  # warm-up: caches, first collective scheduled
    paints = _count_paints(win.view)
    particles = []
    costs = []
    c = win.controller
    for _ in range(frames):
        t0 = time.perf_counter()
        c.advance(1 / 60)
        app.processEvents()
        costs.append(time.perf_counter() - t0)
        p = win.view.last_particles
        particles.append(int(p.moving.sum()) if p is not None else 0)
    ms = np.array(costs) * 1e3
    out = {
        "scene": scene,
        "fps": round(frames / (ms.sum() / 1e3), 1),
        "median_frame_ms": round(float(np.median(ms)), 2),
        "p95_frame_ms": round(float(np.percentile(ms, 95)), 2),
        "particles": int(np.median(particles)),
        "particles_min": int(np.min(particles)),
        "links": int(win.sim.fabric.n_links),
        "frames": frames,
        "paints": paints[0],
        "sim_time_s": c.engine.now_s,
        "window": size,
    }
    win.close()
    if as_json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k:16s} {v}")
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
