"""StudyChart: a scene's numbers as bars (or a curve), each able to say where it comes from.

The chart is rebuilt only when the beat (the number of revealed rows) changes, never per
frame. Hovering a bar shows its value and its provenance (simulated, a closed form or a
source) as a tooltip; ``why_at(i)`` gives the same text to tests.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QToolTip

from app.model import render_model as rm

GROUP_COLORS = [(90, 170, 250), (250, 150, 60), (120, 220, 120), (230, 90, 200), (240, 220, 80)]


def format_value(v: float, unit: str) -> str:
    if unit == "s":
        return rm.format_time(v)
    return f"{v:,.4g} {unit}".strip()


class StudyChart(pg.PlotWidget):
    """Horizontal bars, one per revealed row; log scale for quantities spanning decades."""

    def __init__(self, parent=None):
        super().__init__(parent, background="#0b0e13")
        self.setMenuEnabled(False)
        self.getPlotItem().hideButtons()
        self.rows: list[dict] = []
        self.log = False
        self.font_pt = 10
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)

    def show_rows(self, title: str, rows: list[dict], log: bool = False, curve: bool = False) -> None:
        self.clear()
        self.rows, self.log = list(rows), log
        self.setTitle(f'<span style="font-size:{self.font_pt + 2}pt">{title}</span>')
        for name in ("left", "bottom"):
            self.getPlotItem().showAxis(name, bool(rows))
        if not rows:
            # Bare axes read as a fault on a projector: say what will appear and when.
            waiting = "computing" in title
            hint = pg.TextItem("the engine is computing these numbers..." if waiting else
                               "the numbers appear beat by beat (Right / Page Down)",
                               color=(170, 180, 195), anchor=(0.5, 0.5))
            f = hint.textItem.font()
            f.setPointSize(self.font_pt + 1)
            hint.setFont(f)
            hint.setPos(0.5, 0.5)
            self.addItem(hint)
            self.setXRange(0, 1)
            self.setYRange(0, 1)
            return
        if curve and all("x" in r for r in rows):
            self._curve(rows)
        else:
            self._bars(rows, log)

    def _bars(self, rows, log) -> None:
        vals = np.array([r["value"] for r in rows], dtype=float)
        shown = np.log10(np.maximum(vals, 1e-30)) if log else vals
        base = math.floor(shown.min()) - 0.5 if log else 0.0
        groups = list(dict.fromkeys(r.get("group", "") for r in rows))
        brushes = [pg.mkBrush(*GROUP_COLORS[groups.index(r.get("group", "")) % len(GROUP_COLORS)]) for r in rows]
        y = np.arange(len(rows))[::-1]
        self.addItem(pg.BarGraphItem(x0=base, y=y, height=0.7, width=shown - base, brushes=brushes))
        for yi, r, s in zip(y, rows, shown):
            t = pg.TextItem(f"{r['label']}:  {format_value(r['value'], r.get('unit_override', r['unit']))}",
                            color=(235, 235, 235), anchor=(0, 0.5))
            f = t.textItem.font()
            f.setPointSize(self.font_pt)
            t.setFont(f)
            t.setPos(base, yi)
            self.addItem(t)
        ax = self.getAxis("bottom")
        ax.setLabel(f"log10({rows[0]['unit']})" if log else rows[0]["unit"])
        self.getAxis("left").setTicks([[]])
        self.setYRange(-0.6, len(rows) - 0.4)
        self.setXRange(base, shown.max() * (1.05 if not log else 1) + (0.2 if log else 0))

    def _curve(self, rows) -> None:
        self.addLegend(offset=(10, 10))
        groups = list(dict.fromkeys(r.get("group", "") for r in rows))
        for gi, g in enumerate(groups):
            pts = [(r["x"], r["value"]) for r in rows if r.get("group", "") == g]
            x, v = np.array(pts).T
            self.plot(x, v, pen=pg.mkPen(GROUP_COLORS[gi % len(GROUP_COLORS)], width=3), symbol="o",
                      symbolBrush=GROUP_COLORS[gi % len(GROUP_COLORS)], name=g)
        self.getAxis("bottom").setLabel("offered load (flits per core per cycle)")
        self.getAxis("left").setLabel(rows[0]["unit"])

    def why_at(self, i: int) -> str:
        r = self.rows[i]
        return f"{r['label']}: {format_value(r['value'], r.get('unit_override', r['unit']))}\n{r['why']}"

    def _on_mouse_moved(self, pos) -> None:
        if not self.rows:
            return
        p = self.getViewBox().mapSceneToView(pos)
        i = len(self.rows) - 1 - int(round(p.y()))
        if 0 <= i < len(self.rows):
            QToolTip.showText(self.mapToGlobal(self.mapFromScene(pos).toPoint()), self.why_at(i), self)
