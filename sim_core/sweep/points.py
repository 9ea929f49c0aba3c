"""A sweep point: a small frozen, picklable record of one command's inputs.

A point is what travels to a Dask worker. It holds the command name and its options as
``(key, value)`` pairs in the grid's column order; ``argv()`` spells them as the command
line would, so the worker runs exactly what ``python -m sim_core COMMAND ...`` runs.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

COMMANDS = ("train", "collective", "transfer", "noc")
"""Commands a sweep can run: each prints one JSON object of outputs for one input."""


@dataclass(frozen=True)
class Point:
    """One configuration: ``command`` and ``inputs``, ``((key, value), ...)``.

    A value is an int, float, str or bool (a bool is a flag such as ``no-recompute``);
    ``None`` means the key is not given for this point (the command's default applies).
    """

    command: str
    inputs: tuple

    def as_dict(self) -> dict:
        return dict(self.inputs)

    def key(self) -> str:
        """The point's identity in a results file: its given inputs as compact JSON."""
        return point_key(self.as_dict())

    def argv(self) -> list[str]:
        """The command line of this point, without the program name."""
        out = [self.command]
        for name, value in self.inputs:
            if value is None or value is False:
                continue
            out.append(f"--{name}")
            if value is not True:
                out.append(value_text(value))
        return out


def point_key(inputs: dict) -> str:
    """Compact JSON of the inputs that are given (``None`` left out), keys in order."""
    return json.dumps({k: v for k, v in inputs.items() if v is not None}, separators=(",", ":"))


def value_text(value) -> str:
    """A TOML scalar as a command-line word (floats keep every digit: ``repr``)."""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def sort_key(inputs: dict, columns: list[str]) -> tuple:
    """Order of rows: by each input column in turn; numbers, then text, then not given."""
    out = []
    for name in columns:
        v = inputs.get(name)
        if v is None:
            out.append((2, 0.0, ""))
        elif isinstance(v, str):
            out.append((1, 0.0, v))
        else:
            out.append((0, float(v), ""))
    return tuple(out)
