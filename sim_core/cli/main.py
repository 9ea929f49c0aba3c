"""``python -m sim_core``: the headless command line, JSON on stdout, one-line errors on stderr.

Subcommands register themselves: each module in ``SUBCOMMANDS`` has ``register(sub)`` that
adds its parsers and sets ``func`` (which returns a JSON-able object or prints itself).
"""
from __future__ import annotations

import argparse
import importlib
import json
import math
import sys

from sim_core.errors import SpecError
from sim_core.version import __version__

SUBCOMMANDS = ("sim_core.cli.core", "sim_core.cli.training", "sim_core.cli.sweep")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, no usage dump
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0 (accepts 1e9 and 4e9 notation)."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(v) and v > 0):
        raise argparse.ArgumentTypeError(f"{text!r}: must be a finite number > 0")
    return v


def count(lo: int, hi: int):
    def parse(text: str) -> int:
        try:
            f = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not math.isfinite(f) or f != int(f) or not lo <= f <= hi:
            raise argparse.ArgumentTypeError(f"{text!r}: allowed whole numbers {lo} to {hi:,}")
        return int(f)
    return parse


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m sim_core", description="Meshscope simulation core (headless).")
    p.add_argument("--version", action="version", version=f"meshscope sim_core {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in SUBCOMMANDS:
        importlib.import_module(name).register(sub)
    return p


def emit(result, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, indent=None if isinstance(result, dict) else 1, default=_jsonable))
    elif isinstance(result, (dict, list)):
        print(json.dumps(result, indent=2, default=_jsonable))
    elif result is not None:
        print(result)


def _jsonable(o):
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    raise TypeError(type(o).__name__)


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except SpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, IndexError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    emit(result, getattr(args, "json", False))
    return 0
