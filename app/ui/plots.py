"""Live plots: link utilization by kind, bytes in flight, delivery rate, the per-core
load heatmap and the iteration-time comparison across architectures.

Every plot states its units on its axes and carries a one-sentence "why" tooltip. Items
are created once; ``refresh`` only calls ``setData`` / ``setImage``.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont

from sim_core import LINK_KIND_NAMES, LINK_KINDS
from sim_core.engine.view import UtilizationMeter

from app.model import render_model as rm
from app.model.describe import kind_name

WHY = {
    "util": "Utilization of each kind of link: the mean over its links (solid) and its busiest link "
            "(dashed). The kind whose busiest link sits near 100% is what limits this machine for this workload.",
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


def _no_si(plot: pg.PlotWidget) -> None:
    """Axes say their unit in the label the app writes; pyqtgraph must not add '(x1e-06)'."""
    for side in ("left", "bottom"):
        plot.getAxis(side).enableAutoSIPrefix(False)


class _SeriesPlot(pg.PlotWidget):
    """A time series against simulated time, axis units picked by the app from the span shown.

    ``refresh(engine, until_s)`` shows the recorded steps up to ``until_s`` (the clock on
    screen), so a plot never runs ahead of or behind the animation it describes.
    """

    def __init__(self, title: str, left: str, why: str, parent=None):
        super().__init__(parent)
        self.setTitle(title)
        self._left = left
        self.setLabel("left", left)
        self.setLabel("bottom", "simulated time")
        self.setToolTip(why)
        self.showGrid(x=True, y=True, alpha=0.25)
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.getPlotItem().hideButtons()
        _no_si(self)
        self.setMinimumHeight(120)
        self._unit = None
        self._yunit = None

    def _x(self, engine, until_s: float | None) -> tuple[np.ndarray, np.ndarray]:
        """(x in the chosen unit, mask of the steps shown)."""
        t = engine.metrics.series("time_s")
        shown = t <= until_s if until_s is not None else np.ones(t.size, dtype=bool)
        t_end = float(until_s if until_s is not None else (t[-1] if t.size else 0.0))
        scale, unit = rm.time_unit(t_end)
        if unit != self._unit:
            self._unit = unit
            self.setLabel("bottom", f"simulated time ({unit})")
        return t[shown] / scale, shown

    def _y_label(self, unit: str) -> None:
        if unit != self._yunit:
            self._yunit = unit
            self.setLabel("left", self._left.format(unit=unit))

    def _settle(self) -> None:
        """Fit the view to the new data now, not inside the next paint.

        pyqtgraph defers the auto-range to the paint; the axes it moves then ask for a second,
        whole-widget paint on the next frame (and the first paint showed the new curve on the
        old axis labels). Settled here, the one paint of this frame draws curve and axes together.
        """
        self.getViewBox().prepareForPaint()


class LinkUtilizationPlot(_SeriesPlot):
    """Utilization (%) of every link kind present, per step: the mean over the kind's links
    (solid) and its busiest link (dashed), since a mean over hundreds of idle links hides
    the one that limits the machine."""

    def __init__(self, parent=None):
        super().__init__("Link use: mean, busiest (dashed)", "utilization (%)", WHY["util"], parent)
        self.setYRange(0, 100)
        # No legend box over the curves: the colours are the link kinds' (the key above the mesh).
        self.curves: dict[int, pg.PlotDataItem] = {}
        self.max_curves: dict[int, pg.PlotDataItem] = {}

    def set_kinds(self, kinds) -> None:
        for c in [*self.curves.values(), *self.max_curves.values()]:
            self.removeItem(c)
        self.curves, self.max_curves = {}, {}
        for k in kinds:
            rgb = tuple(int(v) for v in rm.KIND_RGB[k])
            self.curves[k] = self.plot([], [], pen=pg.mkPen(rgb, width=2), name=kind_name(k))
            self.max_curves[k] = self.plot([], [], pen=pg.mkPen(rgb, width=1, style=Qt.DashLine))

    def refresh(self, engine, until_s: float | None = None) -> None:
        x, shown = self._x(engine, until_s)
        mean = engine.metrics.series("util_mean")[shown]
        peak = engine.metrics.series("util_max")[shown]
        for k, c in self.curves.items():
            c.setData(x, mean[:, k] * 100.0)
            self.max_curves[k].setData(x, peak[:, k] * 100.0)
        self._settle()

    def values(self) -> dict[str, float]:
        """Latest mean and busiest-link utilization (%) per kind shown, by display name."""
        out = {}
        for k, c in self.curves.items():
            y, ym = c.getData()[1], self.max_curves[k].getData()[1]
            out[f"{kind_name(k)} mean"] = float(y[-1]) if y is not None and len(y) else 0.0
            out[f"{kind_name(k)} busiest"] = float(ym[-1]) if ym is not None and len(ym) else 0.0
        return out


class BytesInFlightPlot(_SeriesPlot):
    def __init__(self, parent=None):
        super().__init__("Bytes in flight", "in flight ({unit})", WHY["inflight"], parent)
        self.curve = self.plot([], [], pen=pg.mkPen((0, 200, 220), width=2))

    def refresh(self, engine, until_s: float | None = None) -> None:
        x, shown = self._x(engine, until_s)
        y = engine.metrics.series("bytes_in_flight")[shown]
        scale, unit = rm.bytes_unit(float(y.max()) if y.size else 0.0)
        self._y_label(unit)
        self.curve.setData(x, y / scale)
        self._settle()


class DeliveryRatePlot(_SeriesPlot):
    def __init__(self, parent=None):
        super().__init__("Chunks delivered per second", "{unit}", WHY["rate"], parent)
        self.curve = self.plot([], [], pen=pg.mkPen((255, 196, 0), width=2))

    def refresh(self, engine, until_s: float | None = None) -> None:
        x, shown = self._x(engine, until_s)
        dt = engine.metrics.series("dt_s")[shown]
        rate = engine.metrics.series("chunks_delivered")[shown] / np.maximum(dt, 1e-30)
        scale, word = rm.count_unit(float(rate.max()) if rate.size else 0.0)
        self._y_label(f"{word}s / s" if word else "chunks / s")
        self.curve.setData(x, rate / scale)
        self._settle()


HEATMAP_FLOOR = 1e-4  # log10 levels [-4, 0]: a mesh link busy 1% of the time is half-bright


class LinkHeatmap(pg.PlotWidget):
    """Per-core load of one chip's mesh: utilization of each tile's outgoing mesh links since
    the last redraw, on a fixed log scale (1e-4 to 1)."""

    def __init__(self, parent=None):
        super().__init__(parent, axisItems={"left": MeshAxis("left"), "bottom": MeshAxis("bottom")})
        self.setTitle("Core mesh load (chip 0)")
        self.setToolTip(WHY["heatmap"])
        self.setMenuEnabled(False)
        self.setAspectLocked(True)
        self.getPlotItem().hideButtons()
        _no_si(self)
        self.setMinimumHeight(120)
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
        self.meter = UtilizationMeter()

    def set_chip(self, chip: int) -> None:
        self.chip = int(chip)
        self.meter.reset()
        self.setTitle(f"Core mesh load (chip {self.chip})")

    def refresh(self, engine, until_s: float | None = None) -> None:
        f = engine.f
        util = self.meter.sample(engine)
        self.load = rm.tile_load(util, f.tile_link, min(self.chip, f.n_chips - 1), f.tile_rows, f.tile_cols)
        shown = np.log10(np.maximum(self.load, HEATMAP_FLOOR))
        rows, cols = self.load.shape
        self.getAxis("left").limit, self.getAxis("bottom").limit = rows, cols
        self.image.setImage(shown, levels=(float(np.log10(HEATMAP_FLOOR)), 0.0), autoLevels=False)


NICE_STEPS = tuple(m * 10 ** e for e in range(6) for m in (1, 2, 5))


class MeshAxis(pg.AxisItem):
    """pyqtgraph's ticks (spaced for the pixels there are), none outside 0 .. ``limit``: the heatmap's
    square cells leave room beside the image, where "core column -5" would mean nothing."""

    limit: float | None = None

    def tickValues(self, minVal, maxVal, size):
        if self.limit is None or maxVal <= minVal:
            return super().tickValues(minVal, maxVal, size)
        lo, hi = max(minVal, 0.0), min(maxVal, float(self.limit))
        if hi <= lo:
            return []
        # one level, spaced for the pixels the mesh covers (pyqtgraph spaces them for the whole axis)
        px = size * (hi - lo) / (maxVal - minVal)
        room = 12 + 8 * len(str(int(self.limit))) if self.orientation in ("bottom", "top") else 16
        fits = max(1, int(px // room))
        step = next((s for s in NICE_STEPS if (hi - lo) / s <= fits), NICE_STEPS[-1])
        return [(step, np.arange(np.ceil(lo / step) * step, hi + 1e-9, step).tolist())]


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
    communication by link kind, each bar labelled with its total. Bar items are pooled:
    created once, then only ``setOpts``. The colour key is ``legend_html`` (the window
    shows it in a wrapping label, where it is never cut)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setToolTip(WHY["compare"])  # the title sits in a wrapping label above (the panel's)
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.getPlotItem().hideButtons()
        _no_si(self)
        self.setMinimumHeight(100)
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() - 2))
        self.getAxis("left").setStyle(tickFont=font)
        self.getAxis("bottom").setStyle(tickFont=font)
        self._font = font
        self.bars: dict[str, pg.BarGraphItem] = {}
        self.texts: list[pg.TextItem] = []
        self.rows: list[dict] = []
        self.parts: list[str] = []
        self.labels: list[str] = []
        self.legend_html = ""

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
        scale, unit = rm.time_unit(total or 1.0)
        y = np.arange(len(rows), dtype=float)[::-1]
        for b in self.bars.values():
            b.setOpts(x0=[], y=[], width=[], height=0.6)
        for part, x0, w in stacks:
            self._bar(part).setOpts(x0=x0 / scale, y=y, width=w / scale, height=0.6)
        self.parts = [p for p, _, w in stacks if np.any(w > 0)]
        for t in self.texts:
            self.removeItem(t)
        self.texts = []
        for yi, r, note in zip(y, rows, notes or [""] * len(rows)):
            end = sum(v for _, v in r["segments"])
            t = pg.TextItem(f" {rm.format_time(end)}{note}", color=pg.getConfigOption("foreground"), anchor=(0, 0.5))
            t.setFont(self._font)
            t.setPos(end / scale, yi)
            self.addItem(t)
            self.texts.append(t)
        self.labels = [("> " if r["label"] == current else "") + r["label"] for r in rows]
        self.getAxis("left").setTicks([list(zip(y.tolist(), self.labels))] if rows else [[]])
        self.legend_html = "&nbsp; ".join(
            f'<span style="color: rgb{part_rgb(p)}">&#9632;</span>&nbsp;{LINK_KIND_NAMES.get(p, p)}'
            for p in self.parts)
        self.getPlotItem().showAxis("bottom", bool(rows))  # no time axis under an empty chart
        if not rows:
            return
        self.unit = unit
        self.legend_html += f"&nbsp;&nbsp; (axis: time in {unit})"
        self.setYRange(-0.6, len(rows) - 0.4, padding=0)
        self.setXRange(0, total / scale * 1.45, padding=0)

    def totals_s(self) -> list[float]:
        """Each bar's total (s), in row order."""
        return [float(sum(v for _, v in r["segments"])) for r in self.rows]
