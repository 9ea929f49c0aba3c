"""Live plots: link utilization by kind, bytes in flight, delivery rate, the per-core
load heatmap and the iteration-time comparison across architectures.

Every plot states its units on its axes and carries a one-sentence "why" tooltip. Items
are created once; ``refresh`` only calls ``setData`` / ``setImage``.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from sim_core import LINK_KINDS

from app.model import render_model as rm
from app.model.training_studies import LINK_KINDS_NAMES

WHY = {
    "util": "Mean utilization of each kind of link. The kind that sits near 100% while the others idle "
            "is what limits this machine for this workload.",
    "inflight": "Bytes released but not yet delivered. It grows when data waits in queues in front of "
                "a slow link, and it is bounded by the buffers when backpressure kicks in.",
    "rate": "Chunks arriving at their destination per simulated second: the throughput the fabric "
            "actually delivers.",
    "heatmap": "Load of each core's outgoing mesh links on one chip since the last redraw, log scale "
               "(1e-4 to 1 = busy all the time). Hot cores near the chip's I/O hub show traffic funnelling "
               "into the off-chip port.",
    "compare": "Time of one round of this workload on every preset, stacked by part: compute, memory, "
               "pipeline bubble and exposed communication per link kind. Training: sim_core.training at "
               "equal chip power, with the projected days to train at the end of each bar.",
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


HEATMAP_FLOOR = 1e-4  # log10 levels [-4, 0]: a mesh link busy 1% of the time is half-bright


def window_utilization(prev: tuple | None, busy_total_s: np.ndarray, now_s: float) -> np.ndarray | None:
    """(L,) mean utilization of each link since ``prev`` = (busy_total_s copy, time), or None.

    On-chip links are 10-100x faster than the off-chip port, so a chunk crosses them in a
    sliver of one step: the last step's utilization is mostly zero. The busy time
    accumulated since the last redraw is what the mesh actually did.
    """
    if prev is None or prev[0].shape != busy_total_s.shape or now_s <= prev[1]:
        return None
    return np.clip((busy_total_s - prev[0]) / (now_s - prev[1]), 0.0, 1.0)


class LinkHeatmap(pg.PlotWidget):
    """Per-core load of one chip's mesh: utilization of each tile's outgoing mesh links since
    the last redraw, on a fixed log scale (1e-4 to 1)."""

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
        lo = float(np.log10(HEATMAP_FLOOR))
        bar = pg.ColorBarItem(values=(lo, 0.0), colorMap=pg.colormap.get("inferno"),
                              label="utilization (log10)", interactive=False, width=12)
        bar.setImageItem(self.image, insert_in=self.getPlotItem())
        self.chip = 0
        self.load = np.zeros((1, 1))
        self._prev: tuple | None = None

    def set_chip(self, chip: int) -> None:
        self.chip = int(chip)
        self._prev = None
        self.setTitle(f"Core mesh load (chip {self.chip})")

    def refresh(self, engine) -> None:
        f = engine.f
        busy = engine.link_busy_total_s
        util = window_utilization(self._prev, busy, engine.now_s)
        if util is None:
            util = engine.link_utilization()
        self._prev = (busy.copy(), engine.now_s)
        self.load = rm.tile_load(util, f.tile_link, min(self.chip, f.n_chips - 1), f.tile_rows, f.tile_cols)
        shown = np.log10(np.maximum(self.load, HEATMAP_FLOOR))
        self.image.setImage(shown, levels=(float(np.log10(HEATMAP_FLOOR)), 0.0), autoLevels=False)


PART_RGB = {"compute": (150, 150, 150), "memory": (70, 110, 200), "pipeline bubble": (200, 80, 80)}


def part_rgb(part: str) -> tuple:
    """Colour of an iteration part: fixed for compute/memory/bubble, the link kind's otherwise."""
    if part in PART_RGB:
        return PART_RGB[part]
    return tuple(int(v) for v in rm.KIND_RGB[LINK_KINDS.index(part)]) if part in LINK_KINDS else (90, 90, 90)


def stacked_bars(rows: list[dict]) -> tuple[list[list], float]:
    """Per distinct part: [part, x0 (R,), width (R,)] for stacked horizontal bars; and the longest total.

    ``rows``: dicts with ``segments`` [(part, seconds)], stacked in order. Pure (tested without Qt).
    """
    parts = list(dict.fromkeys(p for r in rows for p, _ in r.get("segments", [])))
    x0 = {p: np.zeros(len(rows)) for p in parts}
    width = {p: np.zeros(len(rows)) for p in parts}
    totals = np.zeros(len(rows))
    for i, r in enumerate(rows):
        for p, v in r.get("segments", []):
            x0[p][i], width[p][i] = totals[i], v
            totals[i] += v
    return [[p, x0[p], width[p]] for p in parts], float(totals.max()) if rows else 0.0


class ComparisonPlot(pg.PlotWidget):
    """Stacked horizontal bars, one per architecture: compute, memory, bubble and
    communication by link kind. Bar items are pooled: created once, then only ``setOpts``."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setTitle("One round of this workload on every architecture")
        self.setToolTip(WHY["compare"])
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.getPlotItem().hideButtons()
        self.setLabel("bottom", "time per round")
        self.bars: dict[str, pg.BarGraphItem] = {}
        self.texts: list[pg.TextItem] = []
        self.rows: list[dict] = []
        self.parts: list[str] = []

    def _bar(self, part: str) -> pg.BarGraphItem:
        if part not in self.bars:
            self.bars[part] = pg.BarGraphItem(x0=[], y=[], height=0.6, width=[], brush=pg.mkBrush(*part_rgb(part)))
            self.addItem(self.bars[part])
        return self.bars[part]

    def set_rows(self, rows: list[dict], current: str | None = None, notes: list[str] | None = None) -> None:
        """rows: dicts with ``label`` and ``segments`` [(part, s)], or ``compute_s``, ``comm_s`` and
        ``kind`` (a collective round: the comm segment takes its bottleneck link's colour)."""
        rows = [r if "segments" in r else {**r, "segments": [("compute", r["compute_s"]), (r.get("kind") or "comm",
                                                                                            r["comm_s"])]}
                for r in rows]
        self.rows = rows
        stacks, total = stacked_bars(rows)
        scale, unit = _time_unit(total or 1.0)
        y = np.arange(len(rows), dtype=float)[::-1]
        for b in self.bars.values():
            b.setOpts(x0=[], y=[], width=[], height=0.6)
        for part, x0, w in stacks:
            self._bar(part).setOpts(x0=x0 / scale, y=y, width=w / scale, height=0.6)
        self.parts = [p for p, _, _ in stacks]
        for t in self.texts:
            self.removeItem(t)
        self.texts = []
        for yi, r, note in zip(y, rows, notes or [""] * len(rows)):
            if note:
                t = pg.TextItem(note, color=(235, 235, 235), anchor=(0, 0.5))
                t.setPos(sum(v for _, v in r["segments"]) / scale, yi)
                self.addItem(t)
                self.texts.append(t)
        ticks = [(float(yi), ("> " if r["label"] == current else "") + r["label"]) for yi, r in zip(y, rows)]
        self.getAxis("left").setTicks([ticks] if rows else [[]])
        if not rows:
            return
        colours = ", ".join(f'<span style="color: rgb{part_rgb(p)}">&#9632; {LINK_KINDS_NAMES.get(p, p)}</span>'
                            for p in self.parts)
        self.setLabel("bottom", f"time per round ({unit}): {colours}")
        self.setYRange(-0.6, len(rows) - 0.4)
        self.setXRange(0, total / scale * 1.3)

