"""Live plots: link utilization by kind, bytes in flight, delivery rate, the per-core
load heatmap and the iteration-time comparison across architectures.

Every plot states its units on its axes and carries a one-sentence "why" tooltip. Items
are created once; ``refresh`` only calls ``setData`` / ``setImage``.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from sim_core import LINK_KINDS

from . import render_model as rm

WHY = {
    "util": "Mean utilization of each kind of link. The kind that sits near 100% while the others idle "
            "is what limits this machine for this workload.",
    "inflight": "Bytes released but not yet delivered. It grows when data waits in queues in front of "
                "a slow link, and it is bounded by the buffers when backpressure kicks in.",
    "rate": "Chunks arriving at their destination per simulated second: the throughput the fabric "
            "actually delivers.",
    "heatmap": "Load of each core's outgoing mesh links on one chip (0 = idle, 1 = busy all the time). "
               "Hot rows near the chip's I/O edge show traffic funnelling into the off-chip port.",
    "compare": "Time of one round of this workload (compute plus exposed communication) simulated on every "
               "preset with the same number of devices: the same tensors, different hardware.",
}


def _time_unit(t_max: float) -> tuple[float, str]:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if t_max >= scale:
            return scale, unit
    return 1e-9, "ns"


class _SeriesPlot(pg.PlotWidget):
    """A time series against simulated time, axis unit picked from the span shown."""

    def __init__(self, title: str, left: str, why: str, parent=None):
        super().__init__(parent)
        self.setTitle(title)
        self.setLabel("left", left)
        self.setLabel("bottom", "simulated time")
        self.setToolTip(why)
        self.showGrid(x=True, y=True, alpha=0.25)
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.getPlotItem().hideButtons()
        self._unit = None

    def _x(self, engine) -> np.ndarray:
        t = engine.metrics.series("time_s")
        scale, unit = _time_unit(float(t[-1]) if t.size else 0.0)
        if unit != self._unit:
            self._unit = unit
            self.setLabel("bottom", f"simulated time ({unit})")
        return t / scale


class LinkUtilizationPlot(_SeriesPlot):
    """Mean utilization (%) of every link kind present, per step."""

    def __init__(self, parent=None):
        super().__init__("Link utilization by kind", "utilization (%)", WHY["util"], parent)
        self.setYRange(0, 100)
        self.legend = self.addLegend(offset=(5, 5), labelTextSize="9pt")
        self.curves: dict[int, pg.PlotDataItem] = {}

    def set_kinds(self, kinds) -> None:
        for c in self.curves.values():
            self.removeItem(c)
        self.legend.clear()
        self.curves = {}
        for k in kinds:
            self.curves[k] = self.plot([], [], pen=pg.mkPen(tuple(rm.KIND_RGB[k]), width=2), name=LINK_KINDS[k])

    def refresh(self, engine) -> None:
        x = self._x(engine)
        util = engine.metrics.series("util_mean")
        for k, c in self.curves.items():
            c.setData(x, util[:, k] * 100.0)


class BytesInFlightPlot(_SeriesPlot):
    def __init__(self, parent=None):
        super().__init__("Bytes in flight", "in flight (MB)", WHY["inflight"], parent)
        self.curve = self.plot([], [], pen=pg.mkPen((0, 200, 220), width=2))

    def refresh(self, engine) -> None:
        self.curve.setData(self._x(engine), engine.metrics.series("bytes_in_flight") / 1e6)


class DeliveryRatePlot(_SeriesPlot):
    def __init__(self, parent=None):
        super().__init__("Chunks delivered per second", "chunks / s (simulated)", WHY["rate"], parent)
        self.curve = self.plot([], [], pen=pg.mkPen((255, 196, 0), width=2))

    def refresh(self, engine) -> None:
        dt = engine.metrics.series("dt_s")
        n = engine.metrics.series("chunks_delivered")
        self.curve.setData(self._x(engine), n / np.maximum(dt, 1e-30))


class LinkHeatmap(pg.PlotWidget):
    """Per-core load of one chip's mesh as an image with fixed levels [0, 1]."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setTitle("Core mesh load (chip 0)")
        self.setToolTip(WHY["heatmap"])
        self.setMenuEnabled(False)
        self.setAspectLocked(True)
        self.getPlotItem().hideButtons()
        self.setLabel("bottom", "core column")
        self.setLabel("left", "core row")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setLookupTable(pg.colormap.get("inferno").getLookupTable(nPts=256))
        self.addItem(self.image)
        bar = pg.ColorBarItem(values=(0, 1), colorMap=pg.colormap.get("inferno"), label="utilization (0-1)",
                              interactive=False, width=12)
        bar.setImageItem(self.image, insert_in=self.getPlotItem())
        self.chip = 0

    def set_chip(self, chip: int) -> None:
        self.chip = int(chip)
        self.setTitle(f"Core mesh load (chip {self.chip})")

    def refresh(self, engine) -> None:
        f = engine.f
        load = rm.tile_load(engine.link_utilization(), f.tile_link, min(self.chip, f.n_chips - 1),
                            f.tile_rows, f.tile_cols)
        self.image.setImage(load, levels=(0.0, 1.0), autoLevels=False)


class ComparisonPlot(pg.PlotWidget):
    """Stacked horizontal bars: compute and exposed communication per architecture."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setTitle("One round of this workload on every architecture")
        self.setToolTip(WHY["compare"])
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.getPlotItem().hideButtons()
        self.setLabel("bottom", "time per round")
        self.compute_bar = pg.BarGraphItem(x0=[], y=[], height=0.6, width=[], brush=(150, 150, 150))
        self.comm_bar = pg.BarGraphItem(x0=[], y=[], height=0.6, width=[], brushes=[])
        self.addItem(self.compute_bar)
        self.addItem(self.comm_bar)
        self.rows: list[dict] = []

    def set_rows(self, rows: list[dict], current: str | None = None) -> None:
        """rows: dicts with ``label``, ``compute_s``, ``comm_s``, ``kind`` (bottleneck link kind)."""
        self.rows = rows
        if not rows:
            self.compute_bar.setOpts(x0=[], y=[], width=[], height=0.6)
            self.comm_bar.setOpts(x0=[], y=[], width=[], height=0.6, brushes=[])
            self.getAxis("left").setTicks([[]])
            return
        total = max(r["compute_s"] + r["comm_s"] for r in rows) or 1.0
        scale, unit = _time_unit(total)
        y = np.arange(len(rows), dtype=float)
        comp = np.array([r["compute_s"] for r in rows]) / scale
        comm = np.array([r["comm_s"] for r in rows]) / scale
        brushes = [pg.mkBrush(*rm.KIND_RGB[LINK_KINDS.index(r["kind"])]) if r.get("kind") in LINK_KINDS
                   else pg.mkBrush(90, 90, 90) for r in rows]
        self.compute_bar.setOpts(x0=np.zeros(len(rows)), y=y, width=comp, height=0.6)
        self.comm_bar.setOpts(x0=comp, y=y, width=comm, height=0.6, brushes=brushes)
        ticks = [(float(i), ("> " if r["label"] == current else "") + r["label"]) for i, r in enumerate(rows)]
        self.getAxis("left").setTicks([ticks])
        self.setLabel("bottom", f"time per round ({unit}); grey = compute, colour = communication by bottleneck link")
        self.setYRange(-0.6, len(rows) - 0.4)
        self.setXRange(0, total / scale * 1.05)
