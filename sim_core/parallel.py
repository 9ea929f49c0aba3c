"""Independent simulations side by side on threads: the compiled event loop releases the GIL.

``thread_map(fn, items)`` is ``[fn(x) for x in items]`` run on up to one thread per core,
each item in a copy of the caller's context (so ``sim_core.cancel`` tokens reach them);
results come back in order and the first exception is raised. Every item builds its own
engine from its own seed, so the results are those of the serial loop, bit for bit.
"""
from __future__ import annotations

import contextvars
import os
from concurrent.futures import ThreadPoolExecutor


def thread_map(fn, items, max_workers: int | None = None) -> list:
    items = list(items)
    workers = min(len(items), max_workers or os.cpu_count() or 1)
    if workers <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(contextvars.copy_context().run, fn, x) for x in items]
        return [f.result() for f in futures]
