"""Design-space sweeps and plan search, from one machine to a Dask cluster.

From a notebook::

    import sim_core
    df = sim_core.sweep("grid.toml")                    # or a dict shaped like the file
    df = sim_core.sweep("grid.toml", out="results.parquet", scheduler="tcp://10.0.0.5:8786")
    plans = sim_core.plan(arch="dgx-a100", nodes=16, model="gpt3-175b")

Both return a pandas DataFrame. ``sim_core.sweep`` is this module, and calling it runs
``sweep()``: Python makes a package attribute of every subpackage it imports, so a plain
function named like the package would be replaced by the module on first import.
Importing this package loads neither Dask nor pandas; running a sweep does.
"""
from __future__ import annotations

import sys
import types

from sim_core.sweep.grid import Grid, load_grid
from sim_core.sweep.points import Point

__all__ = ["sweep", "plan", "load_grid", "Grid", "Point"]


def sweep(grid, out=None, *, scheduler=None, workers=None, client=None, yes=False, progress=True,
          batch_points=None):
    """Run every point of ``grid`` (a TOML path, a dict like the file, or a ``Grid``).

    Parameters
    ----------
    out : str or Path, optional
        Results file (``.csv`` or ``.parquet``), written in batches; points already in it
        are skipped, so an interrupted call resumes.
    scheduler : str, optional
        ``tcp://HOST:PORT`` of a running ``dask scheduler``; default a ``LocalCluster``
        of ``workers`` processes (one per core). ``client``: an existing Dask client.
    yes : bool
        Allow grids of more than 100,000 points.

    Returns
    -------
    pandas.DataFrame, one row per point sorted by inputs: ``point`` (the inputs as JSON),
    the inputs, the command's outputs (nested ones as dotted names), ``error``, ``wall_s``.
    """
    from sim_core.sweep import driver, store

    g = grid if isinstance(grid, Grid) else load_grid(grid, confirmed=yes)
    run = driver.run_grid(g, out, scheduler=scheduler, workers=workers, client=client, progress=progress,
                          batch_points=batch_points or driver.BATCH_POINTS)
    return store.to_frame(run.rows, run.inputs)


def plan(arch="dgx-a100", nodes=None, model="gpt3-175b", batch=None, *, top=None, scheduler=None, workers=None,
         client=None, progress=True):
    """Every plan of ``model`` on ``arch`` at ``nodes`` (see ``sim_core.sweep.plan_search``), ranked.

    Returns a pandas DataFrame, best first: ``rank`` (``None`` if ruled out), the plan
    (``tp``, ``pp``, ``dp``, ``microbatch``, ``zero``, ``recompute``), ``kept``, ``reason`` and,
    for kept plans, the ``train`` outputs (``iteration_s``, ``memory_per_device_GB``, ...).
    ``top`` keeps the best ``top`` kept plans (ruled-out ones are all listed).
    """
    import pandas as pd

    rows = search_plans(arch, nodes, model, batch, scheduler=scheduler, workers=workers, client=client,
                        progress=progress)[0]
    if top is not None:
        rows = [r for r in rows if not r["kept"] or r["rank"] <= top]
    return pd.DataFrame(rows)


def search_plans(arch, nodes, model, batch=None, *, scheduler=None, workers=None, client=None, progress=True):
    """(ranked plan dicts, the sweep run) of a plan search; the CLI and ``plan()`` share it."""
    from sim_core.sweep import driver
    from sim_core.sweep import plan_search as plans

    grid = plans.plan_grid(arch, nodes, model, batch)
    run = driver.run_grid(grid, None, scheduler=scheduler, workers=workers, client=client, progress=progress)
    return plans.rank(run.rows, plans.memory_GB(arch)), run


class _CallableModule(types.ModuleType):
    """``sim_core.sweep(grid)`` calls ``sweep(grid)`` (see the module docstring)."""

    def __call__(self, *args, **kwargs):
        return sweep(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
