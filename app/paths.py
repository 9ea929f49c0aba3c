"""Where the shipped data folders are: ``scenes/`` and ``assets/``.

From a checkout (or an editable install) they sit next to the ``app`` package; an
installed wheel puts them under ``<prefix>/share/meshscope/`` (pyproject's data-files).
"""
from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

_HERE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """The folder ``name`` (``"scenes"`` or ``"assets"``); raises FileNotFoundError if absent."""
    candidates = [
        _HERE.parent / name,
        Path(sys.prefix) / "share" / "meshscope" / name,
        Path(sysconfig.get_path("data")) / "share" / "meshscope" / name,
    ]
    for c in candidates:
        if c.is_dir():
            return c
    raise FileNotFoundError(f"meshscope data folder {name!r} not found (looked in {', '.join(map(str, candidates))})")


def scenes_dir() -> Path:
    return data_dir("scenes")


def assets_dir() -> Path:
    return data_dir("assets")
