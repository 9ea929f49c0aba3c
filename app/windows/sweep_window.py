"""SweepWindow: a sweep's results as an interactive chart.

Two views of the same table: a heatmap of one output over two inputs (cells that share
both inputs show the best of them: the lowest by default), or a scatter of two outputs,
time against energy by default, with its Pareto front. Clicking a cell or a point calls
``on_pick(config)`` (and emits ``point_picked``) with that point's command and inputs.

``open_sweep_results(parent, path, on_pick)`` is the entry point for a menu action.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QHBoxLayout, QLabel, QMainWindow, QMessageBox,
                               QVBoxLayout, QWidget)

from sim_core import SpecError

from app.model.sweep_table import REDUCERS, SweepTable

HEATMAP, SCATTER = "Heatmap: output over two inputs", "Scatter: two outputs, Pareto front"


class SweepWindow(QMainWindow):
    """The chart of one results table; ``on_pick(config: dict)`` on every click."""

    point_picked = Signal(dict)

    def __init__(self, table: SweepTable, on_pick=None, parent=None):
        super().__init__(parent)
        self.table, self.on_pick = table, on_pick
        self.heat = None
        self.scatter_rows = np.zeros(0, dtype=np.int64)
        self.setWindowTitle(f"Sweep results: {table.source}")
        self._build_controls()
        self._build_plot()
        self._on_mode_changed()

    # ------------------------------------------------------------------ layout
    def _combo(self, items, current=None) -> QComboBox:
        box = QComboBox()
        box.addItems(list(items))
        if current in items:
            box.setCurrentText(current)
        box.currentTextChanged.connect(self.redraw)
        return box

    def _build_controls(self) -> None:
        t = self.table
        axes = t.varied_inputs() or t.inputs
        outs = t.outputs
        self.mode = QComboBox()
        self.mode.addItems([HEATMAP, SCATTER])
        self.mode.currentTextChanged.connect(self._on_mode_changed)
        self.x_input = self._combo(axes, axes[0] if axes else None)
        self.y_input = self._combo(axes, axes[1] if len(axes) > 1 else None)
        z_default = next((c for c in ("iteration_s", "time_s", "avg_latency_cycles") if c in outs), None)
        self.z_output = self._combo(outs, z_default)
        self.reduce = self._combo(list(REDUCERS), "min")
        sx, sy = t.default_scatter()
        self.x_output = self._combo(outs, sx)
        self.y_output = self._combo(outs, sy or (outs[1] if len(outs) > 1 else None))
        self.log_axes = QCheckBox("log axes")
        self.log_axes.toggled.connect(self.redraw)
        self.heat_controls = _row(QLabel("x"), self.x_input, QLabel("y"), self.y_input, QLabel("colour"),
                                  self.z_output, QLabel("cells sharing x, y show the"), self.reduce)
        self.scatter_controls = _row(QLabel("x"), self.x_output, QLabel("y"), self.y_output, self.log_axes)
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.picked = QLabel("Click a cell or a point to open its configuration.")
        self.picked.setTextInteractionFlags(Qt.TextSelectableByMouse)

    def _build_plot(self) -> None:
        self.plot = pg.PlotWidget()
        self.plot.setMenuEnabled(False)
        self.plot.getPlotItem().hideButtons()
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setLookupTable(pg.colormap.get("viridis").getLookupTable(nPts=256))
        self.bar = pg.ColorBarItem(values=(0.0, 1.0), colorMap=pg.colormap.get("viridis"), interactive=False, width=12)
        self.bar.setImageItem(self.image, insert_in=self.plot.getPlotItem())
        self.points = pg.ScatterPlotItem(size=8, pen=None, brush=pg.mkBrush(120, 160, 220, 170))
        self.front = pg.PlotCurveItem(pen=pg.mkPen(240, 120, 40, width=2))
        self.front_points = pg.ScatterPlotItem(size=10, pen=pg.mkPen(240, 120, 40), brush=pg.mkBrush(240, 120, 40))
        for item in (self.image, self.points, self.front, self.front_points):
            self.plot.addItem(item)
        self.points.sigClicked.connect(self._on_point_clicked)
        self.front_points.sigClicked.connect(self._on_point_clicked)
        self.plot.scene().sigMouseClicked.connect(self._on_scene_clicked)
        body = QWidget()
        lay = QVBoxLayout(body)
        lay.addWidget(_row(QLabel("view"), self.mode))
        lay.addWidget(self.heat_controls)
        lay.addWidget(self.scatter_controls)
        lay.addWidget(self.plot, 1)
        lay.addWidget(self.info)
        lay.addWidget(self.picked)
        self.setCentralWidget(body)
        self.resize(900, 650)

    # ------------------------------------------------------------------ drawing
    def _on_mode_changed(self, *_):
        heat = self.mode.currentText() == HEATMAP
        self.heat_controls.setVisible(heat)
        self.scatter_controls.setVisible(not heat)
        self.redraw()

    def redraw(self, *_) -> None:
        heat = self.mode.currentText() == HEATMAP
        for item in (self.points, self.front, self.front_points):
            item.setVisible(not heat)
        self.image.setVisible(heat)
        self.bar.setVisible(heat)
        (self._draw_heatmap if heat else self._draw_scatter)()

    def _draw_heatmap(self) -> None:
        x, y, z = self.x_input.currentText(), self.y_input.currentText(), self.z_output.currentText()
        self.plot.setLogMode(False, False)
        if not (x and y and z):
            self.heat = None
            self.info.setText("A heatmap needs two inputs and a numeric output.")
            return
        hm = self.heat = self.table.heatmap(x, y, z, self.reduce.currentText())
        finite = hm.values[np.isfinite(hm.values)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        self.image.setImage(hm.values, levels=(lo, hi if hi > lo else lo + 1.0), autoLevels=False)
        self.image.setRect(QRectF(-0.5, -0.5, len(hm.x_values), len(hm.y_values)))
        self.bar.setLevels((lo, hi if hi > lo else lo + 1.0))
        self.plot.getAxis("bottom").setTicks([[(i, _label(v)) for i, v in enumerate(hm.x_values)]])
        self.plot.getAxis("left").setTicks([[(j, _label(v)) for j, v in enumerate(hm.y_values)]])
        self.plot.setLabel("bottom", x)
        self.plot.setLabel("left", y)
        self.plot.setTitle(f"{z} ({hm.reduce} over the other inputs)")
        self.plot.autoRange()
        empty = int((hm.rows < 0).sum())
        self.info.setText(f"{len(self.table.rows)} points computed by `{', '.join(self.table.commands)}`; "
                          f"colour: {z}, range {lo:.4g} to {hi:.4g}; {empty} empty cells (refused or not in the grid).")

    def _draw_scatter(self) -> None:
        x, y = self.x_output.currentText(), self.y_output.currentText()
        self.plot.getAxis("bottom").setTicks(None)
        self.plot.getAxis("left").setTicks(None)
        if not (x and y):
            self.info.setText("A scatter needs two numeric outputs.")
            return
        xs, ys, rows, front = self.table.scatter(x, y)
        log = self.log_axes.isChecked() and bool(len(xs)) and bool((xs > 0).all() and (ys > 0).all())
        self.plot.setLogMode(log, log)
        self.scatter_rows = rows
        self.points.setData(xs, ys, data=rows)
        self.front.setData(xs[front], ys[front])
        self.front_points.setData(xs[front], ys[front], data=rows[front])
        self.plot.setLabel("bottom", x)
        self.plot.setLabel("left", y)
        self.plot.setTitle(f"{y} against {x}: {len(front)} of {len(xs)} points on the Pareto front (orange)")
        self.plot.autoRange()
        self.info.setText(f"Lower is better on both axes; a point is on the front when no other point is lower on "
                          f"both. Computed by `{', '.join(self.table.commands)}`.")

    # ------------------------------------------------------------------ picking
    def pick_cell(self, i: int, j: int) -> dict | None:
        """The configuration shown in heatmap cell (column ``i``, row ``j``), picked."""
        hm = self.heat
        if hm is None or not (0 <= j < hm.rows.shape[0] and 0 <= i < hm.rows.shape[1]) or hm.rows[j, i] < 0:
            return None
        return self.pick_row(int(hm.rows[j, i]))

    def pick_row(self, row: int) -> dict:
        config = self.table.config(row)
        self.picked.setText("Picked: " + ", ".join(f"{k} = {v}" for k, v in config.items()))
        self.point_picked.emit(config)
        if self.on_pick is not None:
            self.on_pick(config)
        return config

    def _on_scene_clicked(self, event) -> None:
        if self.mode.currentText() != HEATMAP or event.button() != Qt.LeftButton:
            return
        pos = self.plot.getPlotItem().vb.mapSceneToView(event.scenePos())
        self.pick_cell(int(round(pos.x())), int(round(pos.y())))

    def _on_point_clicked(self, _item, points, *_) -> None:
        if len(points):
            self.pick_row(int(points[0].data()))


def _row(*widgets) -> QWidget:
    w = QWidget()
    lay = QHBoxLayout(w)
    lay.setContentsMargins(0, 0, 0, 0)
    for x in widgets:
        lay.addWidget(x)
    lay.addStretch(1)
    return w


def _label(v) -> str:
    return "(default)" if v is None else f"{v:g}" if isinstance(v, float) else str(v)


def open_sweep_results(parent=None, path=None, on_pick=None) -> SweepWindow | None:
    """Ask for a results file if ``path`` is None, then show it; a bad file is a message box."""
    if path is None:
        path, _ = QFileDialog.getOpenFileName(parent, "Open sweep results", "", "Sweep results (*.csv *.parquet)")
        if not path:
            return None
    try:
        table = SweepTable.load(path)
    except SpecError as exc:
        QMessageBox.warning(parent, "Open sweep results", str(exc))
        return None
    if not table.rows:
        QMessageBox.warning(parent, "Open sweep results", f"{path}: no points in this file yet")
        return None
    win = SweepWindow(table, on_pick, parent)
    win.setAttribute(Qt.WA_DeleteOnClose)
    win.show()
    return win
