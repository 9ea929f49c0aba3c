"""Run a grid on Dask: map the points, collect the rows, write them in batches.

The driver only maps (``Client.map`` over picklable points), collects (``as_completed``),
writes atomically and reports progress; the worker (``worker.run_point``) does not know
where it runs. By default the points run on a ``LocalCluster`` of processes, one per core;
``scheduler="tcp://HOST:PORT"`` uses an existing ``distributed`` cluster instead.
"""
from __future__ import annotations

import logging
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass

from sim_core.errors import SpecError
from sim_core.sweep import store
from sim_core.sweep.progress import Progress
from sim_core.sweep.worker import run_point

CONNECT_TIMEOUT_S = 5.0
"""How long to wait for a scheduler to answer (the CLI must report within 10 s)."""
BATCH_POINTS = 200
BATCH_S = 30.0


@dataclass
class SweepRun:
    """What a run did: ``rows`` (all, sorted), points ``computed`` now, ``skipped`` (already
    in the results file), ``lost`` (their worker failed; a rerun retries them), seconds."""

    rows: list
    inputs: list
    computed: int
    skipped: int
    lost: int
    refused: int
    elapsed_s: float
    workers: int


@contextmanager
def cluster_client(scheduler: str | None = None, workers: int | None = None):
    """A ``distributed.Client``: connected to ``scheduler``, or to a new ``LocalCluster`` of
    ``workers`` single-threaded processes (default: one per core), closed on exit."""
    from distributed import Client, LocalCluster

    quiet = logging.getLogger("distributed")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # retries, rescheduling and shutdown chatter: the sweep reports what matters
    cluster = None
    try:
        if scheduler is not None:
            if workers is not None:
                raise SpecError("--workers", "workers", workers,
                                "only without --scheduler (the cluster has its own workers)")
            probe_scheduler(scheduler)
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
        else:
            n = workers or os.cpu_count() or 1
            with _workers_ignore_ctrl_c():
                cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                                       silence_logs=logging.CRITICAL)  # any free port: never "8787 is in use"
            client = Client(cluster, set_as_default=False)
        try:
            yield client
        finally:
            client.close()
    finally:
        if cluster is not None:
            cluster.close()
        quiet.setLevel(level)


@contextmanager
def _workers_ignore_ctrl_c():
    """Worker processes started in here ignore SIGINT (an ignored signal stays ignored in a
    child): Ctrl+C reaches the whole process group, and the driver, not each worker, decides
    what to keep and then stops the cluster."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def probe_scheduler(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """One SpecError unless a Dask scheduler answers at ``address`` within ``timeout_s``.

    Asked on a private event loop in a thread, before any ``Client`` exists: a failed
    ``Client`` keeps a loop alive and spends 10 s more closing itself at exit.
    """
    import asyncio
    import threading

    from distributed.core import rpc

    answer: dict = {}

    async def ask():
        r = rpc(address, timeout=timeout_s)
        try:
            return await asyncio.wait_for(r.identity(), timeout_s)
        finally:
            await r.close_rpc()

    def run():
        try:
            answer["identity"] = asyncio.run(asyncio.wait_for(ask(), timeout_s))
        except BaseException as exc:  # refused, timed out, bad address, not Dask at all: one answer
            answer["error"] = type(exc).__name__

    t = threading.Thread(target=run, name="meshscope-scheduler-probe", daemon=True)
    t.start()
    t.join(timeout_s + 1.0)
    kind = (answer.get("identity") or {}).get("type")
    if kind != "Scheduler":
        why = (f"a {kind} answered, not the scheduler" if kind else
               f"no scheduler answered within {timeout_s:.0f} s: {answer.get('error', 'TimeoutError')}")
        raise SpecError("--scheduler", "scheduler", address,
                        f"the address of a running Dask scheduler, e.g. tcp://HOST:8786 ({why}); "
                        "start one with `dask scheduler`")


def worker_count(client) -> int:
    return len(client.scheduler_info().get("workers", {}))


def run_grid(grid, out=None, *, scheduler=None, workers=None, client=None, batch_points=BATCH_POINTS,
             batch_s=BATCH_S, progress=True, on_progress=None) -> SweepRun:
    """Every point of ``grid`` not already in ``out``, run on Dask; rows written to ``out``.

    ``client``: an existing ``distributed.Client`` (notebooks, tests); otherwise one is made
    from ``scheduler``/``workers``. ``on_progress(done, total)`` is called after each point.
    Ctrl+C (``KeyboardInterrupt``) writes the rows collected so far, then propagates.
    """
    t0 = time.perf_counter()
    inputs = list(grid.columns)
    store.load_writers(out)  # before any point runs: a Ctrl+C never lands in a half-done import
    rows = store.read_rows(out) if out is not None else []
    have = {r["point"] for r in rows}
    points = list(grid.iter_points())
    todo = [p for p in points if p.key() not in have]
    skipped = len(points) - len(todo)
    bar = Progress(len(points), skipped) if progress else None
    state = {"computed": 0, "lost": 0, "refused": 0, "workers": 0}
    if todo:
        if client is not None:
            _collect(client, todo, rows, out, inputs, state, batch_points, batch_s, bar, on_progress, len(points))
        else:
            with cluster_client(scheduler, workers) as c:
                _collect(c, todo, rows, out, inputs, state, batch_points, batch_s, bar, on_progress, len(points))
    return SweepRun(store.sorted_rows(rows, inputs), inputs, state["computed"], skipped, state["lost"],
                    state["refused"], time.perf_counter() - t0, state["workers"])


def _collect(client, todo, rows, out, inputs, state, batch_points, batch_s, bar, on_progress, total):
    from distributed import as_completed

    state["workers"] = worker_count(client)
    futures = client.map(run_point, todo, pure=False)
    point_of = {f.key: p for f, p in zip(futures, todo)}
    pending, last_write = 0, time.perf_counter()
    try:
        for fut in as_completed(futures, loop=client.loop):
            row = _row_of(fut, point_of[fut.key])
            if row is None:
                state["lost"] += 1
                continue
            rows.append(row)
            pending += 1
            state["computed"] += 1
            state["refused"] += row["error"] is not None
            if out is not None and (pending >= batch_points or time.perf_counter() - last_write >= batch_s):
                store.write_rows(out, rows, inputs)
                pending, last_write = 0, time.perf_counter()
            if bar is not None:
                bar.update(state["computed"], state["refused"])
            if on_progress is not None:
                on_progress(state["computed"] + total - len(todo), total)
    finally:
        client.cancel(futures)
        if out is not None and pending:
            store.write_rows(out, rows, inputs)


def _row_of(fut, point):
    """The future's row; a point whose run raised gets its error; ``None`` if its worker died."""
    from distributed import KilledWorker

    try:
        return fut.result()
    except (KilledWorker, OSError, TimeoutError):  # the point is fine, its worker is not: retry on rerun
        return None
    except Exception as exc:  # a bug in a command is a property of the point: keep it visible
        return {"point": point.key(), "command": point.command, **point.as_dict(),
                "error": f"internal error ({type(exc).__name__}): {exc}", "wall_s": None}
