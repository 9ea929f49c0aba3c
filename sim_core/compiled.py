"""numba as the project's compiled code uses it: ``njit``, with cached code loaded lean.

Every module with compiled code imports ``njit`` from here, so the loader below is in
place before the first cached function loads.

Before numba loads a function from its on-disk cache, it calls
``target_context.refresh()``. That imports and registers every lowering implementation
numba has (linear algebra, random generators, typed containers and more). On this
machine it takes 0.15-0.3 s, once per process, and it is spent on code that is already
machine code. Only compiling needs those registries, and numba's compiler refreshes both
contexts itself before it compiles (``numba.core.compiler.CompilerBase``). So a cache
load here only starts the runtime the loaded code calls (NRT), then reads the cache.
The loader is installed only on the numba versions it was checked against. On any other
version, numba loads its cache its own way.
"""
from __future__ import annotations

import numba
from numba import njit
from numba.core import caching

__all__ = ["njit", "lean_loading_supported"]

CHECKED_VERSIONS = ((0, 68), (0, 69))  # [first, last): the minor versions whose Cache.load_overload this mirrors


def _version(text: str) -> tuple[int, int]:
    major, minor = text.split(".")[:2]
    return int(major), int("".join(ch for ch in minor if ch.isdigit()) or 0)


def _load_overload(self, sig, target_context):
    """``numba.core.caching.Cache.load_overload`` without the registry refresh."""
    from numba.core.runtime import rtsys

    rtsys.initialize(target_context)
    with self._guard_against_spurious_io_errors():
        return self._load_overload(sig, target_context)


def lean_loading_supported(version: str = numba.__version__) -> bool:
    """Whether this numba's cache loader is the one ``_load_overload`` replaces."""
    first, last = CHECKED_VERSIONS
    return first <= _version(version) < last and hasattr(caching.Cache, "_load_overload")


if lean_loading_supported():
    caching.Cache.load_overload = _load_overload
