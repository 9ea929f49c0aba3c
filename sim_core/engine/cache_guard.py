"""Keep numba's on-disk cache of the event loop in step with the files compiled into it.

numba keys a cached function on its own source file only, but the event loop in
``kernel.py`` compiles in the helpers of ``heaps.py`` and ``routes.py``: after one of those
changes (a ``git pull`` that leaves ``kernel.py`` alone), the cache would load stale code.
``check`` hashes the three files and, when the hash differs from the one stored beside
the cache, removes the cached kernel so that numba compiles it again.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_SOURCES = ("kernel.py", "heaps.py", "routes.py")


def check(cache_dir: Path | None = None) -> bool:
    """Drop a stale cached kernel; returns True when one was dropped. Never raises on I/O."""
    cache = cache_dir or _HERE / "__pycache__"
    try:
        digest = hashlib.sha256(b"".join((_HERE / name).read_bytes() for name in _SOURCES)).hexdigest()
        stamp = cache / "kernel.sources.sha256"
        if stamp.is_file() and stamp.read_text().strip() == digest:
            return False
        dropped = False
        for f in cache.glob("kernel.*.nb[ic]"):
            f.unlink()
            dropped = True
        cache.mkdir(exist_ok=True)
        stamp.write_text(digest + "\n")
        return dropped
    except OSError:  # a read-only install: numba then caches elsewhere or not at all
        return False
