"""``python -m app`` / ``meshscope``: the window, or a headless screenshot or benchmark.

    python -m app                                   # window, default scenario, animating
    python -m app --scene wafer                     # another built-in scenario
    python -m app --scene default --frames 120 --screenshot out.png
    python -m app --benchmark --frames 600 --json   # wafer 64x64; --scene dgx16 for the cluster
    python -m app --benchmark --scene pod4096 --speed 64 --json   # a whole TPU v4 pod, at 64x
    python -m app --scene default --frames 120 --dump-state out.json   # the texts and numbers on screen
    python -m app --scene leaving-the-chip          # a scene file (shipped name or path), beat by beat
    python -m app --scene scenes/4-congestion.toml --record out.mp4 --fps 30   # or out.gif, no window
"""
from __future__ import annotations

import argparse
import os
import sys

from app.model.scenario import SCENARIOS
from sim_core.cli.main import count

BENCHMARK_DEFAULT = "wafer"


def parse_args(argv):
    p = argparse.ArgumentParser(prog="meshscope", description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scene", help=f"a scene file path, a shipped scene's name, or a built-in scenario: "
                                   f"{', '.join(SCENARIOS)}")
    p.add_argument("--record", metavar="OUT", help="render the whole scene to OUT (.mp4 or .gif) without a window")
    p.add_argument("--fps", type=count(1, 120), default=30, help="frames per second of --record (default 30)")
    p.add_argument("--width", type=count(16, 7680), default=None, help="--record: video width in pixels (default: window)")
    p.add_argument("--presenter", action="store_true", help="start a scene in presenter mode (full screen)")
    p.add_argument("--browser", action="store_true", help="open the scene browser (with --screenshot: of it)")
    p.add_argument("--frames", type=count(1, 1_000_000), default=None, help="frames to run headless")
    p.add_argument("--screenshot", metavar="PNG", help="render offscreen and write the window picture")
    p.add_argument("--benchmark", action="store_true", help="measure frame times offscreen (1280x800)")
    p.add_argument("--json", action="store_true", help="benchmark figures (or --check's result) as JSON")
    p.add_argument("--speed", type=speed_value, default=None, help="benchmark, screenshot, state dump: playback speed (1/1000 to 10000)")
    p.add_argument("--check", action="store_true", help="scene files: run the scene's check at full size, no window")
    p.add_argument("--dump-state", metavar="FILE", help="run --frames headless (then on until a round completed) "
                                                        "and write what the window shows as JSON")
    p.add_argument("--size", type=window_size, default=None, help="window size WxH (default 1600x1000; benchmark 1280x800)")
    p.add_argument("--settings", metavar="INI", help="use this settings file instead of the user's "
                                                     "(a corrupt one is set aside as INI.corrupt-<time>)")
    p.add_argument("--version", action="store_true", help="print versions and exit")
    return p.parse_args(argv)


def window_size(text: str) -> str:
    """argparse type: ``WxH`` with both between 200 and 8192 pixels."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: WIDTHxHEIGHT in pixels, e.g. 1600x1000") from None
    if not (200 <= w <= 8192 and 200 <= h <= 8192):
        raise argparse.ArgumentTypeError(f"{text!r}: width and height from 200 to 8192 pixels")
    return f"{w}x{h}"


def speed_value(text: str) -> float:
    """argparse type: a playback speed from 1/1000 to 10000 (``0.5``, ``64`` or ``1/1000``)."""
    import math
    try:
        num, _, den = text.partition("/")
        v = float(num) / (float(den) if den else 1.0)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"{text!r}: a number such as 64, 0.5 or 1/1000") from None
    if not (math.isfinite(v) and 1e-3 <= v <= 1e4):
        raise argparse.ArgumentTypeError(f"{text!r}: allowed 1/1000 to 10000")
    return v


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.version:
        from sim_core import __version__ as APP_VERSION
        print(f"meshscope {APP_VERSION}")
        return 0
    headless = bool(args.screenshot or args.benchmark or args.record or args.check or args.dump_state)
    if headless and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from app import launch as hl
    if args.record or args.check or (args.scene and args.scene not in SCENARIOS) or args.browser:
        from app.scenes import cli as scene_cli
        return scene_cli.run(args)
    if args.benchmark:
        return hl.run_benchmark(args.scene or BENCHMARK_DEFAULT, args.frames or 600, args.json, args.size or "1280x800",
                                args.speed)
    if args.screenshot or args.dump_state:
        return hl.run_screenshot(args.scene or "default", args.frames or 120, args.screenshot, args.size or "1600x1000",
                                 args.dump_state, args.speed)
    return hl.run_window(args.scene, args.settings, args.size)


if __name__ == "__main__":
    sys.exit(main())
