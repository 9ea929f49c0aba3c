"""A sweep's results table as the chart needs it (Qt-free): inputs, outputs, a heatmap over
two inputs, a scatter of two outputs with its Pareto front, and each point's configuration.

The table is the file ``python -m sim_core sweep`` wrote (CSV or Parquet); every number
shown is a cell of it, computed by the command named in its ``command`` column.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np

REDUCERS = {"min": np.nanmin, "max": np.nanmax, "mean": np.nanmean}
"""How cells that share both heatmap inputs (other inputs differ) become one value."""
TIME_COLUMNS = ("time_to_train_s", "iteration_s", "time_s", "avg_latency_cycles")
ENERGY_COLUMNS = ("energy_J", "energy_MWh")


@dataclass(frozen=True)
class Heatmap:
    """``values[j, i]`` (float64, NaN where no point) at ``x_values[i]``, ``y_values[j]``;
    ``rows[j, i]`` (int64) is the row shown in that cell, -1 if none."""

    x: str
    y: str
    z: str
    reduce: str
    x_values: list
    y_values: list
    values: np.ndarray
    rows: np.ndarray


class SweepTable:
    """The rows of one results file; ``inputs`` and numeric ``outputs`` by column name."""

    def __init__(self, rows: list[dict], source: str = "results"):
        self.rows = rows
        self.source = source
        self.inputs = list(dict.fromkeys(k for r in rows for k in json.loads(r["point"])))
        skip = {"point", "command", "error", *self.inputs}
        self.outputs = [k for k in dict.fromkeys(k for r in rows for k in r)
                        if k not in skip and any(_number(r.get(k)) is not None for r in rows)]

    @classmethod
    def load(cls, path) -> "SweepTable":
        """Rows of a results file; a bad file raises ``SpecError`` naming it."""
        from sim_core.sweep import store

        rows = store.read_rows(path)
        return cls(rows, str(path))

    @property
    def commands(self) -> list[str]:
        return sorted({r.get("command") or "?" for r in self.rows})

    def varied_inputs(self) -> list[str]:
        """Inputs that take more than one value (what a heatmap axis can show)."""
        return [k for k in self.inputs if len({json.dumps(r.get(k)) for r in self.rows}) > 1]

    def column(self, name: str) -> np.ndarray:
        """(R,) float64 of a numeric column, NaN where missing or refused."""
        return np.array([_number(r.get(name)) if r.get("error") is None else None for r in self.rows], dtype=float)

    def config(self, row: int) -> dict:
        """What a click opens: ``command`` and the point's given inputs."""
        r = self.rows[row]
        return {"command": r.get("command"), **json.loads(r["point"])}

    def heatmap(self, x: str, y: str, z: str, reduce: str = "min") -> Heatmap:
        """``z`` over inputs ``x`` and ``y``; cells sharing (x, y) reduced by ``reduce``."""
        if reduce not in REDUCERS:
            raise ValueError(f"reduce must be one of {', '.join(REDUCERS)}")
        xs = _axis(self.rows, x)
        ys = _axis(self.rows, y)
        zs = self.column(z)
        values = np.full((len(ys), len(xs)), np.nan)
        rows = np.full((len(ys), len(xs)), -1, dtype=np.int64)
        xi = {json.dumps(v): i for i, v in enumerate(xs)}
        yi = {json.dumps(v): j for j, v in enumerate(ys)}
        cells: dict = {}
        for k, r in enumerate(self.rows):
            cells.setdefault((yi[json.dumps(r.get(y))], xi[json.dumps(r.get(x))]), []).append(k)
        for (j, i), members in cells.items():
            vals = zs[members]
            if np.isnan(vals).all():
                continue
            values[j, i] = REDUCERS[reduce](vals)
            pick = np.nanargmin(vals) if reduce == "min" else np.nanargmax(vals) if reduce == "max" else \
                int(np.nanargmin(np.abs(vals - values[j, i])))
            rows[j, i] = members[int(pick)]
        return Heatmap(x, y, z, reduce, xs, ys, values, rows)

    def default_scatter(self) -> tuple[str | None, str | None]:
        """A time column and an energy column, when the table has them."""
        t = next((c for c in TIME_COLUMNS if c in self.outputs), None)
        e = next((c for c in ENERGY_COLUMNS if c in self.outputs), None)
        return t, e

    def scatter(self, x: str, y: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(xs, ys, rows, front): the points where both are numbers, and the indices into
        them of the Pareto front (lower is better on both), ordered by ``x``."""
        xs_all, ys_all = self.column(x), self.column(y)
        ok = ~(np.isnan(xs_all) | np.isnan(ys_all))
        rows = np.flatnonzero(ok)
        xs, ys = xs_all[ok], ys_all[ok]
        return xs, ys, rows, pareto_front(xs, ys)


def pareto_front(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Indices of the points no other point beats on both (lower x and y), ordered by x.

    ``xs``, ``ys``: (N,) float64. Sort by (x, y); a point is on the front when its y is
    below every y before it (one pass over the sorted order).
    """
    if len(xs) == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((ys, xs))
    best_before = np.minimum.accumulate(ys[order])
    prev = np.concatenate([[np.inf], best_before[:-1]])
    return order[ys[order] < prev].astype(np.int64)


def _axis(rows: list[dict], name: str) -> list:
    """Distinct values of an input in ascending order (numbers, then text, then not given)."""
    from sim_core.sweep.points import sort_key

    values = {json.dumps(r.get(name)): r.get(name) for r in rows}
    return sorted(values.values(), key=lambda v: sort_key({name: v}, [name]))


def _number(v):
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)) and math.isfinite(v):
        return float(v)
    return None


def scenario_for_point(point: dict, base):
    """The ``Scenario`` that shows a sweep point in the main view: its architecture and size,
    and its command as a workload (``collective`` and ``transfer`` as such, ``train`` as a
    training iteration of its model, ``noc`` as on-chip traffic). ``base`` (the running
    scenario) supplies everything the point does not say."""
    arch = str(point.get("arch", base.architecture))
    dims = point.get("dims")
    if isinstance(dims, str):
        dims = tuple(int(d) for d in dims.lower().split("x"))
    size = point.get("nodes", point.get("wafers"))
    changes = dict(architecture=arch, size=int(size) if size is not None else None,
                   dims=tuple(dims) if dims is not None else None, tiles=None, sim_rate_s=0.0,
                   name=f"sweep point: {arch}")
    command = point.get("command")
    if command == "collective":
        params = {"op": str(point.get("op", "allreduce")), "algo": str(point.get("algo", "auto")),
                  "nbytes": float(point.get("bytes", 4e9))}
        return base.replace(workload="collective", params=params, **changes)
    if command == "transfer":
        params = {"src": int(point.get("src", 0)), "dst": int(point.get("dst", 1)), "nbytes": float(point.get("bytes", 1e9))}
        return base.replace(workload="transfer", params=params, **changes)
    if command == "train":
        return base.replace(workload="training", params={"model": str(point.get("model", "bert-large"))}, **changes)
    return base.replace(workload="noc", params={"rate": float(point.get("rate", 0.1))}, **changes)
