"""App soak: ``python -m benchmarks.app_soak [--minutes 30] [--speed 32] [--content auto] [--json]``.

Plays the heaviest shipped content offscreen in the real window, frame by frame as the app
does (one ``Controller.advance`` of 1/60 s wall time at ``--speed``, under the app's own
per-frame simulation budget, then Qt paints the frame), and samples resident memory, the
number of graphics items in the mesh view(s), the window's QObject children, the engine's
array bytes and frame times.

What "the equivalent of N minutes" means here
---------------------------------------------
N minutes of presenting at 1x and 60 fps is N x 3,600 frames, each advancing 1/60 s of
wall time, i.e. ``N x 60 x sim_rate_s`` of *simulated* time (``sim_rate_s``: simulated
seconds shown per wall second at 1x). 30 minutes is 108,000 frames: at 8 to 40 ms a frame
here, that is 15 to 70 minutes of wall time. So the soak runs at ``--speed`` S (default
32x, a setting users pick with ``]``) and keeps painting frames until the simulated time
covered equals N minutes at 1x. Because the app caps the simulation work per frame
(``SIM_BUDGET_S``), a frame at S x usually covers less than S/60 s of 1x presenting; the
soak does not cheat by lifting the cap, it paints more frames. It prints the frames
painted, the simulated time covered and its 1x-presenting equivalent, and stops early
(saying so) if ``--max-wall-min`` runs out first.

So: every simulated step of N minutes of 1x presenting is run, and far more frames are
painted than a 1x run of the same wall time would, but fewer than 108,000.

Checks: RSS growth over the second half below 10% (the controller's rewind snapshots are
bounded by design, ``SNAPSHOT_BUDGET_BYTES``; their growth is printed and subtracted),
graphics item and QObject counts constant after warm-up, frame-time median of the first
and last decile.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

CONTENT = ("wafer-hotspot", "scenes/4-congestion.toml")
WARMUP_FRAMES = 60
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_MB() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE / 2**20


def open_content(name: str, size: str = "1280x800"):
    """A shown window playing ``name`` (built-in scenario or scene file); returns (window, views)."""
    from app.launch import _window
    w, h = (int(v) for v in size.split("x"))
    if name.endswith(".toml"):
        from app.windows.scene_window import SceneWindow
        win = SceneWindow(name)
        win.resize(w, h)
        win.goto_beat(min(1, len(win.scene.beats) - 1))  # the hotspot beat: queues grow
        views = list(win.views)
    else:
        win = _window(name, size, compare=False)
        views = [win.view]
    win.show()
    return win, views


def _engine_bytes(c) -> int:
    total = 0
    for eng in [c.engine, *(f.engine for f in c.followers)]:
        for obj in (eng, eng.metrics):
            for v in vars(obj).values():
                if isinstance(v, np.ndarray):
                    total += v.nbytes
                elif isinstance(v, dict):
                    total += sum(a.nbytes for a in v.values() if isinstance(a, np.ndarray))
    return total


def sample(win, views) -> dict:
    from PySide6.QtCore import QObject
    c = win.controller
    return {"rss_MB": rss_MB(), "items": sum(len(v.scene().items()) for v in views),
            "qobjects": len(win.findChildren(QObject)), "engine_MB": _engine_bytes(c) / 2**20,
            "history_MB": c._history_bytes / 2**20, "sim_s": c.display_t}


def _frame(app, c) -> float:
    t0 = time.perf_counter()
    c.advance(1 / 60)  # the app's own per-frame simulation budget
    app.processEvents()  # Qt paints the frame
    return time.perf_counter() - t0


def _start(app, win, speed: float):
    app.processEvents()
    win.jobs.pool.waitForDone(120000)  # studies and comparisons finished: their items exist
    app.processEvents()
    c = win.controller
    c.set_speed(speed)
    c.play()
    c.timer.stop()  # we drive frames ourselves, at a fixed 1/60 s wall step
    return c


def probe(app, name: str, speed: float, frames: int = 60) -> float:
    """Median frame time (ms) of ``name`` at ``speed``, after a warm-up."""
    win, _ = open_content(name)
    try:
        c = _start(app, win, speed)
        for _ in range(30):
            _frame(app, c)
        return float(np.median([_frame(app, c) for _ in range(frames)]) * 1e3)
    finally:
        win.close()
        app.processEvents()


def soak(app, name: str, minutes: float, speed: float, max_wall_s: float = 900.0,
         max_frames: int | None = None, samples: int = 40) -> dict:
    """Paint frames of ``name`` until ``minutes`` of 1x presenting are covered (or a cap); the figures."""
    win, views = open_content(name)
    c = _start(app, win, speed)
    paints = _count_paints(views)
    for _ in range(WARMUP_FRAMES):
        _frame(app, c)
    rate = c.sim.sim_rate_s
    target_sim = c.display_t + minutes * 60.0 * rate
    est = max(1, int(minutes * 3600 / max(speed, 1)))
    every = max(1, est // samples)
    rows, costs = [sample(win, views)], []
    t0 = time.perf_counter()
    stopped = ""
    start_sim = c.display_t
    while c.display_t < target_sim:
        if max_frames is not None and len(costs) >= max_frames:
            stopped = f"--frames {max_frames} reached"
            break
        if time.perf_counter() - t0 > max_wall_s:
            stopped = f"wall-time cap {max_wall_s / 60:g} min reached"
            break
        costs.append(_frame(app, c))
        if c.state != "playing":
            stopped = f"the run paused: {win.message_bar.message}"
            break
        if len(costs) % every == 0:
            rows.append(sample(win, views))
    rows.append(sample(win, views))
    wall = time.perf_counter() - t0
    out = _figures(name, rows, costs, wall, c.display_t - start_sim, rate, minutes, speed, sum(p[0] for p in paints), stopped)
    win.close()
    app.processEvents()
    return out


def _figures(name, rows, costs, wall, sim_s, rate, minutes, speed, paints, stopped) -> dict:
    ms = np.array(costs) * 1e3
    d = max(1, len(ms) // 10)
    mid = rows[len(rows) // 2]
    last = rows[-1]
    hist_growth = last["history_MB"] - mid["history_MB"]
    growth = (last["rss_MB"] - mid["rss_MB"]) / mid["rss_MB"]
    growth_ex = (last["rss_MB"] - mid["rss_MB"] - hist_growth) / mid["rss_MB"]
    covered_min = sim_s / rate / 60.0
    return {
        "content": name,
        "speed": speed,
        "frames_painted": int(len(ms)),
        "paint_events": int(paints),
        "wall_s": round(wall, 1),
        "sim_time_covered_s": sim_s,
        "equivalent_1x_minutes": round(covered_min, 2),
        "equivalent_means": (f"{covered_min:.1f} min of presenting at 1x = {covered_min * 3600:,.0f} frames at 60 fps; "
                             f"ran as {len(ms):,} painted frames at {speed:g}x under the app's per-frame budget"),
        "target_minutes": minutes,
        "complete": not stopped,
        "stopped": stopped,
        "rss_MB_first_mid_last": [round(rows[0]["rss_MB"], 1), round(mid["rss_MB"], 1), round(last["rss_MB"], 1)],
        "rss_growth_second_half_pct": round(100 * growth, 2),
        "snapshot_history_MB_mid_last": [round(mid["history_MB"], 1), round(last["history_MB"], 1)],
        "rss_growth_second_half_ex_history_pct": round(100 * growth_ex, 2),
        "items_min_max": [min(r["items"] for r in rows), max(r["items"] for r in rows)],
        "qobjects_min_max": [min(r["qobjects"] for r in rows), max(r["qobjects"] for r in rows)],
        "engine_MB_first_last": [round(rows[0]["engine_MB"], 2), round(last["engine_MB"], 2)],
        "engine_MB_min_max": [round(min(r["engine_MB"] for r in rows), 2), round(max(r["engine_MB"] for r in rows), 2)],
        # pools grow while the traffic ramps up (one doubling in the first frames); a leak keeps growing after
        "engine_MB_second_half_min_max": [round(min(r["engine_MB"] for r in rows[len(rows) // 2:]), 2),
                                          round(max(r["engine_MB"] for r in rows[len(rows) // 2:]), 2)],
        "frame_ms_median_first_decile": round(float(np.median(ms[:d])), 2) if len(ms) else None,
        "frame_ms_median_last_decile": round(float(np.median(ms[-d:])), 2) if len(ms) else None,
        "frame_ms_p95": round(float(np.percentile(ms, 95)), 2) if len(ms) else None,
        "samples": len(rows),
    }


def verdict(out: dict) -> list[str]:
    """The failed checks, as lines (empty: all passed)."""
    bad = []
    if out["rss_growth_second_half_ex_history_pct"] >= 10:
        bad.append(f"memory grew {out['rss_growth_second_half_ex_history_pct']}% over the second half (limit 10%)")
    if out["items_min_max"][0] != out["items_min_max"][1]:
        bad.append(f"graphics items changed: {out['items_min_max']}")
    if out["qobjects_min_max"][0] != out["qobjects_min_max"][1]:
        bad.append(f"QObject children changed: {out['qobjects_min_max']}")
    lo, hi = out["engine_MB_second_half_min_max"]
    if hi > 1.1 * lo + 1.0:  # chunk arrays grow and compact with the load; a leak keeps growing
        bad.append(f"engine arrays grew over the second half: {out['engine_MB_second_half_min_max']} MB")
    return bad


def _count_paints(views) -> list[list[int]]:
    from app.launch import _count_paints as count
    return [count(v) for v in views]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.app_soak", description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=30.0, help="minutes of 1x presenting to cover (default 30)")
    p.add_argument("--speed", type=float, default=32.0, help="playback speed while soaking (default 32x)")
    p.add_argument("--content", default="auto", help=f"auto (the heavier of {', '.join(CONTENT)} by frame time), "
                                                      "a built-in scenario or a scene file")
    p.add_argument("--max-wall-min", type=float, default=15.0, help="stop (and say so) after this much wall time")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from app.launch import make_app
    app = make_app()
    probes = {}
    name = args.content
    if name == "auto":
        probes = {n: round(probe(app, n, args.speed), 2) for n in CONTENT}
        name = max(probes, key=probes.get)
    out = soak(app, name, args.minutes, args.speed, max_wall_s=args.max_wall_min * 60)
    out["probe_median_frame_ms"] = probes
    out["failed"] = verdict(out)
    if args.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k:40s} {v}")
    return 1 if out["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
