"""Command-line paths for scene files: the window, presenter mode, screenshots, --record,
--check and --dump-state.

``--record`` plays every beat of the scene offscreen and encodes it; progress goes to
stderr; a failure or Ctrl+C leaves no partial file (atomic write). ``--check`` runs the
scene's check at full size without a window (``--json``: passed, value, says, wall_s).
``--dump-state FILE`` opens the scene offscreen, runs ``--frames`` frames once its numbers
are computed and writes what the window shows as JSON (atomic write).
"""
from __future__ import annotations

import sys
import time

from sim_core import SpecError

from app.ui.export import write_screenshot


def _window(args, size: str):
    from app.launch import make_app
    from app.windows.scene_window import SceneWindow
    from app.ui.theme import apply_theme
    app = make_app()
    apply_theme(app, dark=True)
    win = SceneWindow(args.scene or "1")
    w, h = (int(v) for v in size.lower().split("x"))
    win.resize(w, h)
    return app, win


def run(args) -> int:
    try:
        if getattr(args, "check", False):
            return run_check(args)
        if getattr(args, "dump_state", None):
            return dump_state(args)
        if args.record:
            return record(args)
        if args.screenshot:
            return screenshot(args)
        app, win = _window(args, args.size or "1600x1000")
    except SpecError as exc:
        print(f"meshscope: {exc}", file=sys.stderr)
        return 2
    win.show()
    if args.presenter:
        win.set_presenting(True)
    if args.browser:
        win.act_browser()
    win.controller.play()
    return app.exec()


def record(args) -> int:
    from app.ui.export import export_video, scene_frames
    app, win = _window(args, args.size or "1280x800")
    win.show()
    app.processEvents()
    size = None
    if args.width:
        w = win.grab().width()
        h = win.grab().height()
        size = (args.width, int(round(h * args.width / w / 2)) * 2)
    t0 = time.perf_counter()
    nbeats = len(win.scene.beats)

    def progress(n):
        if n % max(1, args.fps) == 0:
            print(f"\r{args.record}: beat {win.run.beat + 1}/{nbeats}, {n} frames, "
                  f"{time.perf_counter() - t0:.0f} s", end="", file=sys.stderr, flush=True)
    try:
        n = export_video(scene_frames(win, args.fps, size=size), args.record, args.fps, progress=progress)
    except Exception as exc:
        print(f"\nmeshscope: could not record {args.record} (nothing written): {type(exc).__name__}: {exc}",
              file=sys.stderr)
        return 1
    finally:
        win.close()
    print(f"\nwrote {args.record}: {n} frames at {args.fps} fps", file=sys.stderr)
    return 0


def screenshot(args) -> int:
    from app.launch import make_app
    app, win = _window(args, args.size or "1600x1000")
    win.show()
    if args.presenter:
        win.set_presenting(True, full_screen=not args.size)
    app.processEvents()
    win.jobs.pool.waitForDone(120000)
    app.processEvents()
    target = win
    if args.browser:
        from app.windows.scene_browser import SceneBrowser
        target = SceneBrowser(win)
        target.show()
        target.jobs.pool.waitForDone(300000)  # thumbnails render off the GUI thread
        app.processEvents()
    c = win.controller
    for _ in range(args.frames or 120):
        c.advance(1 / 60, budget_s=1.0)
        app.processEvents()
    ok = write_screenshot(target, args.screenshot)
    win.close()
    return 0 if ok else 1


def check_result(name: str, fast: bool = False) -> dict:
    """The scene's check, computed headlessly: passed, value, shown, says, why, line, wall_s.

    A check on a study value needs only the study; one on the panes (``pane1_over_pane0``)
    plays every beat first.
    """
    from app.scenes.runner import open_scene
    t0 = time.perf_counter()
    run = open_scene(name, fast=fast)
    if run.scene.check is None:
        raise SpecError(run.source, "check", "(missing)", "a scene with a [check] table")
    if run.scene.check.value not in run.compute_study().values:
        run.run_all()
    res = run.evaluate_check()
    return {"scene": run.scene.title, **res.to_json(), "wall_s": round(time.perf_counter() - t0, 3)}


def run_check(args) -> int:
    import json
    out = check_result(args.scene or "1")
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(f"{out['scene']}: {out['line']} ({out['value_name']} = {out['value']:.6g}; {out['wall_s']:.1f} s)")
    return 0 if out["passed"] else 1


def window_state(win, app, frames: int) -> dict:
    """Wait for the scene's numbers, run ``frames`` frames, return ``win.dump_state()``."""
    win.jobs.pool.waitForDone(300000)
    app.processEvents()
    for _ in range(frames):
        win.controller.advance(1 / 60, budget_s=1.0)
        app.processEvents()
    return win.dump_state()


def dump_state(args) -> int:
    import json
    from sim_core.atomic_io import write_atomic
    app, win = _window(args, args.size or "1600x1000")
    win.show()
    if args.presenter:
        win.set_presenting(True, full_screen=not args.size)
    try:
        state = window_state(win, app, args.frames or 60)
        write_atomic(args.dump_state, json.dumps(state, indent=2) + "\n")
    finally:
        win.close()
    return 0
