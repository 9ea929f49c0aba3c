"""``python -m app`` / ``meshscope``: the window, or a headless screenshot or benchmark.

    python -m app                                   # window, default scenario, animating
    python -m app --scene wafer                     # another built-in scenario
    python -m app --scene default --frames 120 --screenshot out.png
    python -m app --benchmark --frames 600 --json   # wafer 64x64; --scene dgx16 for the cluster
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
    p.add_argument("--json", action="store_true", help="benchmark figures as JSON")
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


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.version:
        from app.windows.main_window import APP_VERSION
        print(f"meshscope {APP_VERSION}")
        return 0
    headless = bool(args.screenshot or args.benchmark or args.record)
    if headless and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from app import launch as hl
    if args.record or (args.scene and args.scene not in SCENARIOS) or args.browser:
        from app.scenes import cli as scene_cli
        return scene_cli.run(args)
    if args.benchmark:
        return hl.run_benchmark(args.scene or BENCHMARK_DEFAULT, args.frames or 600, args.json, args.size or "1280x800")
    if args.screenshot:
        return hl.run_screenshot(args.scene or "default", args.frames or 120, args.screenshot, args.size or "1600x1000")
    return hl.run_window(args.scene, args.settings)


if __name__ == "__main__":
    sys.exit(main())
