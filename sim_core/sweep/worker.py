"""What a Dask worker runs: one point in, one flat row out.

The point is run by the command line's own code: its argv is parsed by
``sim_core.cli.main.build_parser()`` and ``args.func(args)`` computes the result, so a
sweep row is what ``python -m sim_core COMMAND ... --json`` prints for that point, flattened.
A point the command refuses becomes a row whose ``error`` holds the refusal's message.
"""
from __future__ import annotations

import json
import time
from functools import lru_cache

from sim_core.errors import SpecError
from sim_core.sweep.points import Point

QUIET_FLAGS = ("--json", "--quiet")
"""Added to every point whose command has them: JSON-able results, no progress lines."""


@lru_cache(maxsize=1)
def _parser():
    from sim_core.cli.main import build_parser
    return build_parser()


@lru_cache(maxsize=None)
def _extra_flags(command: str) -> tuple:
    from sim_core.sweep.grid import command_options
    options = command_options(command)
    return tuple(f for f in QUIET_FLAGS if f[2:] in options)


def warm_up() -> None:
    """Import the commands and build the parser once (``client.run(warm_up)`` on every
    worker before timing, so the first point does not pay for the imports)."""
    _parser()


def run_point(point: Point) -> dict:
    """The row of ``point``: ``point`` (its key), its inputs, the command's outputs
    (nested dicts flattened to dotted names), ``error`` (``None`` or the refusal) and
    ``wall_s`` (wall-clock seconds this point took on its worker; not a simulated time)."""
    inputs = point.as_dict()
    row = {"point": point.key(), "command": point.command, **inputs}
    t0 = time.perf_counter()
    error = None
    outputs = {}
    try:
        args = _parser().parse_args(point.argv() + list(_extra_flags(point.command)))
        outputs = flatten(args.func(args))
    except SystemExit:  # argparse printed why; the grid loader checks values, so this is rare
        error = "the command line was refused: " + " ".join(point.argv())
    except (SpecError, ValueError, IndexError) as exc:  # the refusals the CLI turns into exit 2
        error = str(exc)
    for name, value in outputs.items():
        row[f"out.{name}" if name in inputs else name] = value
    row.pop("wall_s", None)  # a command's own timing is replaced by the sweep's
    row["error"] = error
    row["wall_s"] = time.perf_counter() - t0
    return row


def flatten(result, prefix: str = "") -> dict:
    """``{"breakdown_s": {"compute": 1.0}}`` -> ``{"breakdown_s.compute": 1.0}``; lists
    become JSON text (one cell each), NumPy scalars Python numbers."""
    if not isinstance(result, dict):
        return {prefix or "result": _cell(result)}
    out = {}
    for key, value in result.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        else:
            out[name] = _cell(value)
    return out


def _cell(value):
    if hasattr(value, "item") and not isinstance(value, (list, tuple)):
        try:
            value = value.item()
        except (TypeError, ValueError):
            pass
    if isinstance(value, (list, tuple)) or hasattr(value, "tolist"):
        return json.dumps(value.tolist() if hasattr(value, "tolist") else list(value), default=str)
    return value
