"""StudyChart: a scene's numbers (a ``ChartSpec``) as bars, stacked bars, curves or a timeline.

The chart is rebuilt only when the beat changes, never per frame. Units are chosen by
``app.scenes.present`` (the axis says "ms" or "us"); pyqtgraph's SI-prefix multipliers are
switched off. Each bar's label sits on its own line above the bar, so long names never
cover another bar. Hovering a bar or a point shows where its number comes from;
``why_at(i)`` gives the same text to tests, ``overflowing_texts()`` lists any text that
does not fit inside the plot.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QFont, QFontMetricsF
from PySide6.QtWidgets import QToolTip

from app.scenes.present import ChartSpec, message_spec

GROUP_COLORS = [(90, 170, 250), (250, 150, 60), (120, 220, 120), (230, 90, 200), (240, 220, 80)]
PART_COLORS = {"compute": (90, 170, 250), "memory": (120, 220, 120), "communication": (250, 150, 60),
               "pipeline bubble": (170, 170, 185)}
TEXT = (235, 235, 235)
LEGEND_OFFSET_PX = 10
TEXT_MARGIN_PX = 4.0  # a TextItem's document margin, above its first line
MIN_BAR_PX = 9.0


def _text_size(text: str, pt: int) -> tuple[float, float]:
    """(width, height) in pixels of a ``pg.TextItem`` showing ``text`` at ``pt`` points (margins included)."""
    f = QFont()
    f.setPointSize(pt)
    fm = QFontMetricsF(f)
    lines = text.split("\n")
    return (max(fm.horizontalAdvance(t) for t in lines) + 2 * TEXT_MARGIN_PX,
            len(lines) * fm.lineSpacing() + 2 * TEXT_MARGIN_PX)


def _overlap(a, b) -> float:
    r = a.intersected(b)
    return max(r.width(), 0.0) * max(r.height(), 0.0)


class StudyChart(pg.PlotWidget):
    """Draws one ``ChartSpec``; ``spec`` is what is on screen."""

    def __init__(self, parent=None):
        super().__init__(parent, background="#0b0e13")
        self.setMenuEnabled(False)
        pi = self.getPlotItem()
        pi.hideButtons()
        for name in ("left", "bottom"):
            pi.getAxis(name).enableAutoSIPrefix(False)
        self.font_pt = 10
        self.spec: ChartSpec = message_spec("")
        self.texts: list[pg.TextItem] = []
        self.two_line = False  # bar labels on two lines (name, then number) when one line is too wide
        self.label_pt = 10  # bar labels: font_pt, or smaller when rows are too short for label and bar
        self._row_px, self._top, self._span = 30.0, 1.0, (-0.45, 0.22)
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)

    # ------------------------------------------------------------------ drawing
    def show_spec(self, spec: ChartSpec) -> None:
        """Draw ``spec``; bar labels that do not fit on one line are redrawn on two."""
        self._draw(spec, two_line=False)
        if spec.bars and self.overflowing_texts():
            self._draw(spec, two_line=True)

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        spec = self.__dict__.get("spec")  # pyqtgraph calls this from its constructor, before ours ran
        if spec is not None and spec.bars:
            self.show_spec(self.spec)  # label wrapping depends on the width

    def _draw(self, spec: ChartSpec, two_line: bool) -> None:
        self.two_line = two_line
        pi = self.getPlotItem()
        self.clear()
        if pi.legend is not None:
            pi.legend.scene().removeItem(pi.legend) if pi.legend.scene() else None
            pi.legend = None
        self.texts = []
        self.spec = spec
        # The title is the window's job (a word-wrapped label above the chart): a plot title
        # never wraps and would widen the chart past the window.
        drawn = spec.kind != "message"
        for name in ("left", "bottom"):
            pi.showAxis(name, drawn)
            ax = pi.getAxis(name)
            ax.setTicks(None)
            ax.setLabel("")
            f = ax.label.font()
            f.setPointSize(self.font_pt)
            ax.label.setFont(f)
            ax.setStyle(tickFont=f)
        getattr(self, f"_draw_{spec.kind}")(spec)

    def _text(self, s: str, x: float, y: float, anchor=(0, 0), size: int | None = None, color=TEXT, fill=None):
        t = pg.TextItem(s, color=color, anchor=anchor, fill=fill)
        f = t.textItem.font()
        f.setPointSize(size or self.font_pt)
        t.setFont(f)
        t.setPos(x, y)
        self.addItem(t)
        self.texts.append(t)
        return t

    def _legend(self, names, colors, corner=(-LEGEND_OFFSET_PX, LEGEND_OFFSET_PX)):
        leg = self.addLegend(offset=corner, labelTextSize=f"{self.font_pt}pt", labelTextColor=TEXT,
                             brush=pg.mkBrush(11, 14, 19, 220))
        for name, c in zip(names, colors):
            sample = pg.BarGraphItem(x0=[0], y=[0], height=[0], width=[0], brush=pg.mkBrush(*c), pen=None)
            leg.addItem(sample, name)
        leg.setColumnCount(2 if len(names) > 2 else 1)
        return leg

    def _draw_message(self, spec: ChartSpec) -> None:
        self._text(spec.message, 0.5, 0.5, anchor=(0.5, 0.5), color=(170, 180, 195))
        self.setXRange(0, 1, padding=0)
        self.setYRange(0, 1, padding=0)

    def _draw_bars(self, spec: ChartSpec) -> None:
        groups = list(dict.fromkeys(b["group"] for b in spec.bars))
        n = len(spec.bars)
        y = np.arange(n)[::-1].astype(float)
        vals = np.array([b["value"] for b in spec.bars])
        self._layout_rows(spec, n, groups if spec.legend else [], GROUP_COLORS)
        for gi, g in enumerate(groups):  # one item (one brush) per colour: pyqtgraph's fast path
            sel = np.array([b["group"] == g for b in spec.bars])
            self.addItem(pg.BarGraphItem(x0=0.0, y=y[sel] - self._bar_dy(), height=self._bar_h(), width=vals[sel],
                                         brush=pg.mkBrush(*GROUP_COLORS[gi % len(GROUP_COLORS)]), pen=None))
        self._bar_labels(spec, y)
        self._frame_bars(spec, float(vals.max()))

    def _draw_stacked(self, spec: ChartSpec) -> None:
        n = len(spec.bars)
        y = np.arange(n)[::-1].astype(float)
        parts = spec.legend
        self._layout_rows(spec, n, parts, [PART_COLORS.get(p, GROUP_COLORS[4]) for p in parts])
        left = np.zeros(n)
        for part in parts:
            w = np.array([dict(b["segments"]).get(part, 0.0) for b in spec.bars])
            self.addItem(pg.BarGraphItem(x0=left.copy(), y=y - self._bar_dy(), height=self._bar_h(), width=w, pen=None,
                                         brush=pg.mkBrush(*PART_COLORS.get(part, GROUP_COLORS[4]))))
            left += w
        self._bar_labels(spec, y)
        self._frame_bars(spec, float(left.max()))

    def _layout_rows(self, spec: ChartSpec, n: int, legend: list[str], colors) -> None:
        """Rows in pixels: the legend (drawn first, measured) on top, then one row a bar, each
        its label line(s) above a bar that never reaches into the label or the next row. Labels
        get smaller (down to 8 pt) before a bar gets thinner than ``MIN_BAR_PX``."""
        pi = self.getPlotItem()
        pi.hideAxis("left")
        pi.getAxis("bottom").setLabel(spec.x_label)
        pi.layout.activate()  # the axis just shown takes its height now: the rows are measured in what is left
        legend_px = 0.0
        if legend:
            leg = self._legend(legend, colors)
            legend_px = LEGEND_OFFSET_PX + leg.boundingRect().height() + 4.0
        height_px = max(self.getViewBox().height(), 120.0)
        self._row_px = max(height_px - legend_px, 60.0) / (n + 0.15)
        self._top = n - 0.35 + legend_px / self._row_px
        lines = 2 if self.two_line else 1
        self.label_pt = self.font_pt
        while True:
            f = QFont()
            f.setPointSize(self.label_pt)
            text_px = TEXT_MARGIN_PX + lines * QFontMetricsF(f).lineSpacing() + 2.0  # the box's bottom margin is empty
            hi = min(0.22, 0.5 - text_px / self._row_px)
            lo = max(-0.45, -0.5 + 2.0 / self._row_px)
            if (hi - lo) * self._row_px >= MIN_BAR_PX or self.label_pt <= 8:
                break
            self.label_pt -= 1
        self._span = (lo, max(hi, lo + 1.0 / self._row_px))

    def _bar_span(self) -> tuple[float, float]:
        """(bottom, top) of a bar relative to its row, in rows: below the row's label line(s)."""
        return self._span

    def _bar_h(self) -> float:
        lo, hi = self._bar_span()
        return hi - lo

    def _bar_dy(self) -> float:
        lo, hi = self._bar_span()
        return -0.5 * (lo + hi)

    def _bar_labels(self, spec: ChartSpec, y) -> None:
        sep = "\n" if self.two_line else ": "
        for yi, b in zip(y, spec.bars):
            self._text(f"{b['label']}{sep}{b['text']}", 0.0, yi + 0.5, size=self.label_pt)

    def _frame_bars(self, spec: ChartSpec, vmax: float) -> None:
        self.setYRange(-0.5, self._top, padding=0)
        self.setXRange(0, vmax * 1.04 or 1.0, padding=0)

    def _draw_curve(self, spec: ChartSpec) -> None:
        self._legend([s["name"] for s in spec.series], GROUP_COLORS, corner=(10, 10))  # curves rise to the right
        for gi, s in enumerate(spec.series):
            c = GROUP_COLORS[gi % len(GROUP_COLORS)]
            self.plot(s["x"], s["y"], pen=pg.mkPen(c, width=3), symbol="o", symbolBrush=c, symbolSize=9)
        pi = self.getPlotItem()
        pi.getAxis("bottom").setLabel(spec.x_label)
        pi.getAxis("left").setLabel(spec.y_label)
        ys = [v for s in spec.series for v in s["y"]]
        xs = [v for s in spec.series for v in s["x"]]
        self.setXRange(0, max(xs) * 1.05, padding=0)
        self.setYRange(0, max(ys) * 1.12, padding=0)

    def _draw_timeline(self, spec: ChartSpec) -> None:
        """Points on a log axis, each named beside it where the name covers no other name, point
        or box; the fit's label and the side table top left, with the y range raised (in pixels)
        until they sit above every point."""
        s = spec.series[0]
        xs, ly = np.asarray(s["x"], float), np.log10(s["y"])
        pi = self.getPlotItem()
        pi.getAxis("left").setTicks([spec.y_ticks])
        pi.getAxis("left").setLabel(spec.y_label)
        if spec.x_ticks:
            pi.getAxis("bottom").setTicks([spec.x_ticks])
        pi.getAxis("bottom").setLabel(spec.x_label)
        pi.layout.activate()  # the axes take their room now: the ranges below are sized in what is left
        small, note = max(7, self.font_pt - 3), max(7, self.font_pt - 2)
        head = ([spec.fit["label"]] if spec.fit else []) + (["\n".join([spec.side_title + ":"] + spec.side)]
                                                           if spec.side else [])
        head_px = sum(_text_size(t, note)[1] for t in head)
        x0, x1 = float(xs.min()) - 0.4, float(xs.max()) + 1.2
        y0 = spec.y_ticks[0][0] - 0.3
        vb = self.getViewBox()
        w_px, h_px = max(vb.width(), 120.0), max(vb.height(), 120.0)
        room = min((head_px + _text_size("X", small)[1] + 6.0) / h_px, 0.6)  # above the top point: its name, the boxes
        y1 = max(spec.y_ticks[-1][0] + 1.6, (float(ly.max()) - room * y0) / (1.0 - room))
        self.setXRange(x0, x1, padding=0)
        self.setYRange(y0, y1, padding=0)
        self.plot(xs, ly, pen=None, symbol="o", symbolBrush=GROUP_COLORS[0], symbolSize=11)
        if spec.fit:
            self.plot(spec.fit["x"], np.log10(spec.fit["y"]), pen=pg.mkPen(GROUP_COLORS[1], width=3))

        def to_px(x, y):
            return (x - x0) / (x1 - x0) * w_px, (y1 - y) / (y1 - y0) * h_px
        from PySide6.QtCore import QRectF
        taken = []
        top = 0.0
        for text, color in zip(head, [GROUP_COLORS[1]] * bool(spec.fit) + [TEXT] * bool(spec.side)):
            w, h = _text_size(text, note)
            self._text(text, x0 + 6.0 * (x1 - x0) / w_px, y1 - top * (y1 - y0) / h_px, size=note, color=color,
                       fill=pg.mkBrush(11, 14, 19, 230) if color is TEXT else None)
            taken.append(QRectF(6.0, top, w, h))
            top += h
        px = np.array([to_px(x, y) for x, y in zip(xs, ly)])
        marks = [QRectF(cx - 6, cy - 6, 12, 12) for cx, cy in px]
        plot_rect = QRectF(0, 0, w_px, h_px)
        mid = 0.5 * (xs.min() + xs.max())

        def clash(r: QRectF, own: int) -> float:
            """Pixels of ``r`` over other names and boxes (a word space apart, so two names never read
            as one), a little for points, a lot outside the plot."""
            area = sum(_overlap(r.adjusted(-9, -2, 9, 2), t) for t in taken)
            area += 0.2 * sum(_overlap(r, mk) for j, mk in enumerate(marks) if j != own)
            return area + (0.0 if plot_rect.contains(r) else 1e6)
        for i, ((cx, cy), x, v, name) in enumerate(zip(px, xs, ly, s.get("point_labels", []))):
            w, h = _text_size(name, small)
            m = TEXT_MARGIN_PX
            # beside the point at its height (away from the middle), then above, below, the other side
            right = [(0, 0.5, 7), (0, 1, 0), (0, 0, 0)]
            left = [(1, 0.5, -7), (1, 1, 0), (1, 0, 0)]
            prefer = right + left if x < mid else left + right
            boxes = [QRectF(cx + dx - ax * w, cy - ay * h, w, h).adjusted(m, m, -m, -m) for ax, ay, dx in prefer]
            scores = [clash(r, i) for r in boxes]
            k = int(np.argmin(scores))  # the first preferred place among the least covered
            ax, ay, dx = prefer[k]
            taken.append(boxes[k])
            self._text(name, x + dx * (x1 - x0) / w_px, v, anchor=(ax, ay), size=small, color=(200, 205, 215))

    # ------------------------------------------------------------------ questions
    def overflowing_texts(self) -> list[str]:
        """Texts whose box reaches outside the plot area (cut off on screen)."""
        vb = self.getViewBox()
        vb.updateMatrix()
        for t in self.texts:
            t.updateTransform(force=True)
        area = vb.sceneBoundingRect().adjusted(-1, -1, 1, 1)
        return [t.textItem.toPlainText() for t in self.texts if not area.contains(t.sceneBoundingRect())]

    def covered_texts(self) -> list[str]:
        """Bar labels whose lines (the text box without its empty margins) touch a bar or the legend;
        on other charts, texts that touch another text."""
        from PySide6.QtCore import QRectF
        if not self.spec.bars:
            for t in self.texts:
                t.updateTransform(force=True)
            m = TEXT_MARGIN_PX
            rects = [t.sceneBoundingRect().adjusted(m, m, -m, -m) for t in self.texts]
            return [t.textItem.toPlainText() for i, t in enumerate(self.texts)
                    if any(i != j and rects[i].intersects(r) for j, r in enumerate(rects))]
        vb = self.getViewBox()
        vb.updateMatrix()
        lo, hi = self._span
        n = len(self.spec.bars)
        blocks = []
        for i, b in enumerate(self.spec.bars):
            yi = n - 1 - i
            blocks.append(vb.mapViewToScene(QRectF(0.0, yi + lo, b["value"], hi - lo)).boundingRect())
        leg = self.getPlotItem().legend
        if leg is not None:
            blocks.append(leg.sceneBoundingRect())
        out = []
        for t in self.texts:
            t.updateTransform(force=True)
            r = t.sceneBoundingRect().adjusted(0, TEXT_MARGIN_PX, 0, -TEXT_MARGIN_PX)
            if any(r.intersects(blk) for blk in blocks):
                out.append(t.textItem.toPlainText())
        return out

    def why_at(self, i: int) -> str:
        if self.spec.bars:
            b = self.spec.bars[i]
            return f"{b['label']}: {b['text']}\n{b['why']}"
        pts = [(s["name"], x, y, w) for s in self.spec.series for x, y, w in zip(s["x"], s["y"], s["why"])]
        name, x, y, w = pts[i]
        return f"{name} at {x:g}: {y:,.4g} {self.spec.unit}\n{w}"

    def _on_mouse_moved(self, pos) -> None:
        if not self.spec.bars:
            return
        p = self.getViewBox().mapSceneToView(pos)
        i = len(self.spec.bars) - 1 - int(round(p.y()))
        if 0 <= i < len(self.spec.bars):
            QToolTip.showText(self.mapToGlobal(self.mapFromScene(pos).toPoint()), self.why_at(i), self)
