"""The one version of Meshscope: the installed distribution's, as pyproject.toml declares it."""
from __future__ import annotations

from importlib import metadata

try:
    __version__ = metadata.version("meshscope")
except metadata.PackageNotFoundError:  # a bare checkout on sys.path, never installed
    __version__ = "0+unknown"
