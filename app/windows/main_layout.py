"""Where everything sits in the main window, sized to fit a 1280x720 projector.

The mesh view takes the middle; the knobs and the inspector share a scrollable dock on the
left (a form taller than the screen scrolls instead of forcing the window taller); the
live plots stack on the right; the comparison and the per-core load sit along the
bottom; the toolbar carries the clock; the status bar keeps the key hints and, while
background work runs, its progress and a Cancel button.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QDockWidget, QHBoxLayout, QLabel, QMainWindow, QProgressBar, QPushButton, QScrollArea,
                               QSizePolicy, QSlider, QTabWidget, QToolBar, QVBoxLayout, QWidget)

from app.ui.clock import ClockDisplay
from app.ui.controller import SPEEDS
from app.ui.inspector import Inspector
from app.ui.mesh_view import MeshView
from app.ui.message_bar import MessageBar
from app.ui.parameter_panel import ParameterPanel
from app.ui.plots import BytesInFlightPlot, DeliveryRatePlot, LinkHeatmap, LinkUtilizationPlot
from app.windows.comparison_panel import ComparisonPanel

KEY_HINTS = ("Space: play/pause   Right/Left: step/back   R: reset   [ ]: speed   A: next architecture   "
             "F: fit   I: skip idle   hover: numbers   click: pin + path")
TOOLBAR_ACTIONS = ("play", "step_back", "step", "reset", "slower")


def build_central(win: QMainWindow) -> None:
    """Message bar, title with the computing badge, colour legend and the mesh view."""
    central = QWidget()
    lay = QVBoxLayout(central)
    lay.setContentsMargins(4, 4, 4, 4)
    lay.setSpacing(2)
    win.message_bar = MessageBar()
    lay.addWidget(win.message_bar)
    head = QHBoxLayout()
    win.title = QLabel()
    win.title.setObjectName("title")
    win.title.setWordWrap(True)
    head.addWidget(win.title, 1)
    win.badge = QLabel()
    win.badge.setObjectName("badge")
    win.badge.setToolTip("Devices are computing (matrix multiplies, no data on the wires): the mesh is quiet "
                         "because the chips are busy, not because the simulation stopped")
    win.badge.hide()
    head.addWidget(win.badge, 0, Qt.AlignTop)
    lay.addLayout(head)
    win.legend = QLabel()
    win.legend.setWordWrap(True)
    lay.addWidget(win.legend)
    win.view = MeshView()
    win.view.setMinimumSize(240, 200)
    lay.addWidget(win.view, 1)
    win.setCentralWidget(central)


def build_docks(win: QMainWindow) -> None:
    win.params = ParameterPanel()
    win.inspector = Inspector()
    scroll = QScrollArea()
    scroll.setWidget(win.params)
    scroll.setWidgetResizable(True)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
    scroll.setMinimumWidth(win.params.sizeHint().width() + 24)
    tabs = QTabWidget()
    tabs.addTab(scroll, "Parameters")
    tabs.addTab(win.inspector, "Inspector")
    win.left_tabs = tabs
    win.controls_dock = _dock(win, "Controls", tabs, Qt.LeftDockWidgetArea)
    win.util_plot = LinkUtilizationPlot()
    win.inflight_plot = BytesInFlightPlot()
    win.rate_plot = DeliveryRatePlot()
    win.heatmap = LinkHeatmap()
    win.comparison = ComparisonPanel(win.jobs)
    right = QWidget()
    rl = QVBoxLayout(right)
    rl.setContentsMargins(0, 0, 0, 0)
    for w in (win.util_plot, win.inflight_plot, win.rate_plot):
        rl.addWidget(w)
    win.right_dock = _dock(win, "Live numbers", right, Qt.RightDockWidgetArea)
    bottom = QWidget()
    bl = QHBoxLayout(bottom)
    bl.setContentsMargins(0, 0, 0, 0)
    bl.addWidget(win.comparison, 3)
    bl.addWidget(win.heatmap, 2)
    win.bottom_dock = _dock(win, "Comparison and mesh load", bottom, Qt.BottomDockWidgetArea)


def fit_docks(win: QMainWindow, width: int, height: int) -> None:
    """Give the mesh most of the window at any size (saved settings may override later)."""
    win.resizeDocks([win.right_dock], [max(280, min(400, width // 4))], Qt.Horizontal)
    win.resizeDocks([win.bottom_dock], [max(205, min(280, height // 4))], Qt.Vertical)


def _dock(win: QMainWindow, title: str, widget: QWidget, area) -> QDockWidget:
    d = QDockWidget(title, win)
    d.setObjectName(f"dock_{title.replace(' ', '_')}")
    d.setWidget(widget)
    win.addDockWidget(area, d)
    return d


def build_toolbar(win: QMainWindow) -> None:
    tb = QToolBar("Simulation")
    tb.setObjectName("toolbar_simulation")
    win.addToolBar(tb)
    for name in TOOLBAR_ACTIONS:
        tb.addAction(win.actions[name])
    win.speed_slider = QSlider(Qt.Horizontal)
    win.speed_slider.setRange(0, len(SPEEDS) - 1)  # one notch per ladder speed, 1/1000x .. 10,000x
    win.speed_slider.setFixedWidth(140)
    win.speed_slider.setToolTip("Playback speed: 1/1000x to 10,000x of the scenario's rate, in 1-2-5 steps")
    win.speed_slider.valueChanged.connect(lambda i: win.controller.set_speed(SPEEDS[i]))
    tb.addWidget(win.speed_slider)
    for name in ("faster", "fit", "next_architecture"):
        tb.addAction(win.actions[name])
    win.clock = ClockDisplay()
    win.clock.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)
    tb.addWidget(win.clock)
    win.toolbar = tb


def build_menus(win: QMainWindow) -> None:
    bar = win.menuBar()
    menus = {name: bar.addMenu(name) for name in ("File", "Simulation", "View", "Help")}
    for menu_name, names in win.actions.menus().items():
        for name in names:
            menus[menu_name].addAction(win.actions[name])


def build_status_bar(win: QMainWindow) -> None:
    """Key hints on the left; progress and Cancel on the right while background work runs."""
    sb = win.statusBar()
    sb.setSizeGripEnabled(False)
    win.hints = QLabel(KEY_HINTS)
    win.hints.setObjectName("hint")
    sb.addWidget(win.hints, 1)
    win.progress = QProgressBar()
    win.progress.setRange(0, 0)
    win.progress.setFixedWidth(110)
    win.progress.setToolTip("Rebuilding the simulation / comparing architectures in the background")
    win.progress.hide()
    sb.addPermanentWidget(win.progress)
    win.cancel_button = QPushButton("Cancel")
    win.cancel_button.setToolTip("Stop the background work (rebuild or comparison); the running scene carries on")
    win.cancel_button.hide()
    sb.addPermanentWidget(win.cancel_button)
