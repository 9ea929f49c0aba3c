"""Grid files: which command to sweep and over which values, validated on load.

A grid file (TOML)::

    schema_version = 1
    command = "train"                 # train, collective, transfer or noc
    [fixed]                           # options every point shares
    model = "gpt3-175b"
    [vary]                            # lists: their Cartesian product is the sweep
    arch = ["dgx-a100", "dgx-h100"]
    nodes = [16, 32, 64]
    [[points]]                        # optional explicit points (over [fixed])
    arch = "tpu-v4"
    dims = "8x8x16"

Keys are the command's options without their ``--`` (``no-recompute = true`` is the
flag). Every value is checked with the command's own argparse type and choices, so a grid
is refused on load with the message the command would give, naming the file and key.
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from sim_core.errors import SpecError
from sim_core.sweep.points import COMMANDS, Point, value_text

SCHEMA_VERSION = 1
TOP_KEYS = ("schema_version", "command", "fixed", "vary", "points")
MAX_POINTS_UNCONFIRMED = 100_000
MAX_POINTS = 5_000_000
NOT_SWEEPABLE = {"json": "the sweep asks every point for JSON itself",
                 "quiet": "the sweep silences progress lines itself",
                 "help": "not an input",
                 "rates": "one point is one rate: put `rate = [...]` in [vary]"}


@dataclass(frozen=True)
class Grid:
    """A validated grid: ``columns`` are the input keys in row-sorting order."""

    source: str
    command: str
    fixed: dict
    vary: dict
    points: tuple = ()
    columns: tuple = field(default=())

    @property
    def size(self) -> int:
        """Points in the grid (the product of the [vary] lists plus the explicit points)."""
        product = math.prod(len(v) for v in self.vary.values()) if self.vary else 0
        return product + len(self.points)

    def iter_points(self):
        """Every point once, product first, then explicit points not already in it."""
        seen = set()
        names = list(self.vary)
        for combo in itertools.product(*self.vary.values()) if self.vary else ():
            p = self._point({**self.fixed, **dict(zip(names, combo))})
            if self.points:  # only explicit points can repeat a product point
                seen.add(p.inputs)
            yield p
        for extra in self.points:
            p = self._point({**self.fixed, **extra})
            if p.inputs not in seen:
                seen.add(p.inputs)
                yield p

    def _point(self, values: dict) -> Point:
        return Point(self.command, tuple((c, values.get(c)) for c in self.columns))


def load_grid(source, *, confirmed: bool = False) -> Grid:
    """A grid from a TOML path or an already parsed dict (named ``source`` in errors).

    More than 100,000 points need ``confirmed=True`` (the CLI's ``--yes``).
    """
    from sim_core.spec.loader import read_toml

    if isinstance(source, dict):
        doc, name = source, "grid"
    else:
        name = str(source)
        doc = read_toml(Path(source))
    grid = parse_grid(doc, name)
    if grid.size > MAX_POINTS:
        raise SpecError(name, "(points)", grid.size, f"at most {MAX_POINTS:,} points: split the grid into several files")
    if grid.size > MAX_POINTS_UNCONFIRMED and not confirmed:
        raise SpecError(name, "(points)", grid.size,
                        f"at most {MAX_POINTS_UNCONFIRMED:,} points unless confirmed with --yes")
    return grid


def parse_grid(doc: dict, source: str) -> Grid:
    for key in doc:
        if key not in TOP_KEYS:
            raise SpecError(source, key, doc[key], "not a known key (allowed: " + ", ".join(TOP_KEYS) + ")")
    version = doc.get("schema_version")
    if version != SCHEMA_VERSION or isinstance(version, bool):
        raise SpecError(source, "schema_version", "(missing)" if version is None else version,
                        f"schema_version = {SCHEMA_VERSION}")
    command = doc.get("command")
    if command not in COMMANDS:
        raise SpecError(source, "command", "(missing)" if command is None else command, "one of " + ", ".join(COMMANDS))
    options = command_options(command)
    fixed = _table(doc, "fixed", source)
    vary = _table(doc, "vary", source)
    points = doc.get("points", [])
    if not isinstance(points, list) or not all(isinstance(p, dict) for p in points):
        raise SpecError(source, "points", "...", "an array of tables: [[points]] with one option = value each")
    checked_fixed = {k: _checked(options, command, source, f"fixed.{k}", k, v) for k, v in fixed.items()}
    checked_vary = {}
    for k, values in vary.items():
        _action(options, command, source, f"vary.{k}", k, values)
        if k in fixed:
            raise SpecError(source, f"vary.{k}", values, f"given in [fixed] too: a key is fixed or varied, not both")
        if not isinstance(values, list):
            example = json.dumps(values) if isinstance(values, (str, bool)) else value_text(values)
            raise SpecError(source, f"vary.{k}", values, f"a list of values, e.g. {k} = [{example}, ...]")
        if not values:
            raise SpecError(source, f"vary.{k}", values, "a non-empty list of values")
        checked_vary[k] = tuple(_checked(options, command, source, f"vary.{k}[{i}]", k, v) for i, v in enumerate(values))
        if len(set(values)) < len(values):
            raise SpecError(source, f"vary.{k}", values, "a list without repeated values")
    checked_points = []
    for i, extra in enumerate(points):
        if not extra:
            raise SpecError(source, f"points[{i}]", extra, "a table with at least one option")
        checked_points.append({k: _checked(options, command, source, f"points[{i}].{k}", k, v) for k, v in extra.items()})
    if not checked_vary and not checked_points:
        raise SpecError(source, "vary", "(missing)", "a [vary] table of lists or at least one [[points]] entry")
    extra_keys = [k for p in checked_points for k in p if k not in checked_vary and k not in checked_fixed]
    columns = tuple(dict.fromkeys([*checked_vary, *extra_keys, *checked_fixed]))
    return Grid(source, command, checked_fixed, checked_vary, tuple(checked_points), columns)


def _table(doc: dict, name: str, source: str) -> dict:
    t = doc.get(name, {})
    if not isinstance(t, dict):
        raise SpecError(source, name, t, f"a table: [{name}] with one option = value per line")
    return t


def command_options(command: str) -> dict:
    """``{key: argparse action}`` of the command's options (key = the flag without ``--``)."""
    from sim_core.cli.main import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    return {s[2:]: a for a in sub._actions for s in a.option_strings if s.startswith("--")}


def _action(options: dict, command: str, source: str, where: str, key: str, value):
    """The argparse action of ``--key``, or one SpecError if the key is not a sweepable option."""
    if key in NOT_SWEEPABLE and key in options:
        raise SpecError(source, where, value, f"not sweepable: {NOT_SWEEPABLE[key]}")
    action = options.get(key)
    if action is None:
        allowed = ", ".join(sorted(k for k in options if k not in NOT_SWEEPABLE))
        raise SpecError(source, where, value, f"not an option of `{command}` (allowed: {allowed})")
    return action


def _checked(options: dict, command: str, source: str, where: str, key: str, value):
    """``value`` if the command would take it for ``--key``, else one SpecError."""
    action = _action(options, command, source, where, key, value)
    if isinstance(value, list):
        raise SpecError(source, where, value, "a single value (lists of values go in [vary])")
    if isinstance(value, dict) or not isinstance(value, (bool, int, float, str)):
        raise SpecError(source, where, value, "a number, a string or true/false")
    is_flag = action.nargs == 0
    if is_flag != isinstance(value, bool):
        raise SpecError(source, where, value, "true or false (a flag)" if is_flag else "a value, not true/false")
    if is_flag:
        return value
    if isinstance(value, float) and not math.isfinite(value):
        raise SpecError(source, where, value, "a finite number")
    text = value_text(value)
    try:
        parsed = action.type(text) if action.type is not None else text
    except argparse.ArgumentTypeError as exc:
        raise SpecError(source, where, value, str(exc)) from None
    except (TypeError, ValueError):
        raise SpecError(source, where, value, getattr(action.type, "__name__", "a valid value")) from None
    if isinstance(value, str) and isinstance(parsed, (int, float)):
        raise SpecError(source, where, value, f"a number, not a string (write {key} = {text})")
    if action.choices is not None and parsed not in action.choices:
        raise SpecError(source, where, value, "one of " + ", ".join(map(str, action.choices)))
    _check_loadable(source, where, key, value)
    return value


def _check_loadable(source: str, where: str, key: str, value) -> None:
    """An architecture or model name the command could not load is refused now, not per point."""
    try:
        if key == "arch":
            from sim_core.spec.loader import load_architecture
            load_architecture(value)
        elif key == "model" and value != "gpt":
            from sim_core.spec.models import load_model
            load_model(value)
    except SpecError as exc:
        raise SpecError(source, where, value, exc.allowed if exc.source in ("--arch", "--model") else str(exc)) from None
