"""The main window: mesh view in the middle, knobs on the left, live numbers around it."""
from __future__ import annotations

import dataclasses
import json
import math
import platform
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6 import __version__ as pyside_version
from PySide6.QtCore import QByteArray, QSettings, Qt
from PySide6.QtWidgets import (QDockWidget, QFileDialog, QLabel, QMainWindow, QMessageBox, QProgressBar, QPushButton,
                               QSlider, QTabWidget, QToolBar, QVBoxLayout, QWidget)

from sim_core import LINK_KINDS, SpecError, __version__ as core_version, preset_ids

from app.ui import export
from app.model import render_model as rm
from app.ui.actions import Actions
from app.model.comparison import compare, training_comparison
from app.ui.controller import PLAYING, Controller
from app.ui.export import export_architecture
from app.ui.inspector import Inspector, tooltip_text
from app.ui.mesh_view import MeshView
from app.ui.message_bar import MessageBar
from app.ui.parameter_panel import ParameterPanel
from app.ui.plots import BytesInFlightPlot, ComparisonPlot, DeliveryRatePlot, LinkHeatmap, LinkUtilizationPlot
from app.model.scenario import Scenario, build_simulation
from app.scenes.save import save_scene
from app.ui.workers import JobRunner

APP_VERSION = core_version  # one version for the app and the core (sim_core.version)
PLOT_EVERY = 12  # each plot refreshes every 12th frame (5 Hz at 60 fps), one plot per frame


class MainWindow(QMainWindow):
    """Meshscope's window. ``settings`` (a QSettings) remembers layout and last choices."""

    def __init__(self, sim, settings: QSettings | None = None, *, compare_on_start: bool = True):
        super().__init__()
        self.setWindowTitle("Meshscope")
        self.settings = settings
        self.sim = sim
        self.jobs = JobRunner(self)
        self.controller = Controller(sim, self)
        self._frames = 0
        self.training_result: dict | None = None
        self._build_central()
        self._build_docks()
        self.actions = Actions(self)
        self._build_toolbar_and_menus()
        self.controller.frame.connect(self._on_frame)
        self.controller.error.connect(self.message_bar.show_error)
        self.controller.state_changed.connect(self._on_state_changed)
        self.controller.speed_changed.connect(self._on_speed_changed)
        self.jobs.busy_changed.connect(self.progress.setVisible)
        self.jobs.busy_changed.connect(lambda busy: self.cancel_action.setVisible(busy))
        self.params.scenario_edited.connect(self.request_scenario)
        self.view.picked.connect(self._on_picked)
        self.view.describe = lambda target: tooltip_text(self.sim, target)
        self.compare_on_start = compare_on_start
        self._install(sim)
        self._restore_settings()

    # ------------------------------------------------------------------ building
    def _build_central(self) -> None:
        central = QWidget()
        lay = QVBoxLayout(central)
        lay.setContentsMargins(4, 4, 4, 4)
        self.message_bar = MessageBar()
        lay.addWidget(self.message_bar)
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.title.setStyleSheet("font-size: 15pt; font-weight: bold;")
        lay.addWidget(self.title)
        self.legend = QLabel()
        self.legend.setWordWrap(True)
        lay.addWidget(self.legend)
        self.view = MeshView()
        lay.addWidget(self.view, 1)
        self.setCentralWidget(central)

    def _build_docks(self) -> None:
        self.params = ParameterPanel()
        self.inspector = Inspector()
        tabs = QTabWidget()
        tabs.addTab(self.params, "Parameters")
        tabs.addTab(self.inspector, "Inspector")
        self.left_tabs = tabs
        self._dock("Controls", tabs, Qt.LeftDockWidgetArea)
        self.util_plot = LinkUtilizationPlot()
        self.inflight_plot = BytesInFlightPlot()
        self.rate_plot = DeliveryRatePlot()
        self.heatmap = LinkHeatmap()
        self.compare_plot = ComparisonPlot()
        self.compare_plot.setMinimumHeight(230)  # eight stacked bars stay readable
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        for w in (self.util_plot, self.inflight_plot, self.rate_plot):
            rl.addWidget(w)
        self.right_dock = self._dock("Live numbers", right, Qt.RightDockWidgetArea)
        bottom = QWidget()
        from PySide6.QtWidgets import QHBoxLayout
        bl = QHBoxLayout(bottom)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addWidget(self.compare_plot, 3)
        bl.addWidget(self.heatmap, 2)
        self.bottom_dock = self._dock("Comparison and mesh load", bottom, Qt.BottomDockWidgetArea)
        # The mesh is the show: give it most of the window by default (QSettings may override).
        self.resizeDocks([self.right_dock], [360], Qt.Horizontal)
        self.resizeDocks([self.bottom_dock], [260], Qt.Vertical)

    def _dock(self, title: str, widget: QWidget, area) -> QDockWidget:
        d = QDockWidget(title, self)
        d.setObjectName(f"dock_{title.replace(' ', '_')}")
        d.setWidget(widget)
        self.addDockWidget(area, d)
        return d

    def _build_toolbar_and_menus(self) -> None:
        tb = QToolBar("Simulation")
        tb.setObjectName("toolbar_simulation")
        self.addToolBar(tb)
        for name in ("play", "step_back", "step", "reset", "slower"):
            tb.addAction(self.actions[name])
        self.speed_slider = QSlider(Qt.Horizontal)
        self.speed_slider.setRange(-300, 400)  # log10(speed) x 100: 1/1000x .. 10,000x
        self.speed_slider.setFixedWidth(180)
        self.speed_slider.setToolTip("Playback speed, logarithmic: 1/1000x to 10,000x of the scenario's rate")
        self.speed_slider.valueChanged.connect(lambda v: self.controller.set_speed(10 ** (v / 100)))
        tb.addWidget(self.speed_slider)
        for name in ("faster", "fit", "next_architecture"):
            tb.addAction(self.actions[name])
        self.clock = QLabel()
        self.clock.setStyleSheet("font-size: 16pt; font-weight: bold; padding-left: 16px; font-family: monospace;")
        self.clock.setToolTip("Simulated time since reset, and how much of it one wall-clock second shows")
        tb.addWidget(self.clock)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setFixedWidth(120)
        self.progress.setToolTip("Rebuilding the simulation / comparing architectures in the background")
        self.progress.hide()
        self.progress_action = tb.addWidget(self.progress)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the background work (rebuild or comparison); the running scene carries on")
        self.cancel_button.clicked.connect(self.cancel_background_work)
        self.cancel_action = tb.addWidget(self.cancel_button)
        self.cancel_action.setVisible(False)
        bar = self.menuBar()
        menus = {}
        for menu_name in ("File", "Simulation", "View", "Help"):
            menus[menu_name] = bar.addMenu(menu_name)
        for menu_name, names in self.actions.menus().items():
            for name in names:
                menus[menu_name].addAction(self.actions[name])
        self.statusBar().showMessage("Space: play/pause   Right/Left: step/back   R: reset   [ ]: speed   "
                                     "A: next architecture   hover: numbers   click: pin + path")

    # ------------------------------------------------------------------ simulation swap
    def _install(self, sim) -> None:
        self.sim = sim
        self.view.engine = sim.engine
        self.view.set_fabric(sim.fabric)  # before the controller emits a frame of the new engine
        if self.controller.sim is not sim:
            self.controller.set_simulation(sim)
        kinds = sorted(set(np.unique(sim.fabric.link_kind).tolist()))
        self.util_plot.set_kinds(kinds)
        self.heatmap.set_chip(0)
        self.inspector.target = None
        self.params.show_scenario(sim.scenario, sim.spec)
        self._update_titles()
        self._on_speed_changed(self.controller.speed)
        self._on_frame()
        if self.compare_on_start:
            self.request_comparison()

    def _update_titles(self) -> None:
        sim, f = self.sim, self.sim.fabric
        wl = sim.workload
        algo = getattr(wl, "algo_used", None)
        extra = f" ({algo})" if algo else ""
        self.title.setText(f"{sim.spec.name}: {f.n_chips} chips x {f.tile_rows}x{f.tile_cols} cores, "
                           f"{f.n_links:,} links  |  {sim.scenario.workload}{extra}")
        self.title.setToolTip(sim.spec.description)
        sw = "".join(f'<span style="color: rgb{tuple(int(v) for v in rm.KIND_RGB[k])}; font-size: 16pt">&#9632;</span>'
                     f" {LINK_KINDS[k]} &nbsp; " for k in sorted(set(np.unique(f.link_kind).tolist())))
        self.legend.setText(f"{sw} &nbsp; <b>dots</b>: chunks of a tensor (colour = channel/tensor), "
                            "<b>tails</b>: chunks queued for a link; brighter, thicker links are busier.")

    def request_scenario(self, scenario: Scenario) -> None:
        """Build ``scenario`` in the background; on success swap it in, else show why."""
        self.jobs.submit("scenario", lambda progress: build_simulation(scenario), self._on_built,
                         lambda msg, details: self.message_bar.show_error(msg, details))

    def apply_scenario_now(self, scenario: Scenario) -> None:
        """Synchronous variant (start-up, tests)."""
        self._on_built(build_simulation(scenario))

    def _on_built(self, sim) -> None:
        was_playing = self.controller.state == PLAYING
        self.controller.pause()
        self.message_bar.hide()
        self._install(sim)
        if was_playing:
            self.controller.play()

    def request_comparison(self) -> None:
        sc, f = self.sim.scenario, self.sim.fabric
        if sc.workload == "training":
            self.request_training_comparison()
            return
        if sc.workload != "collective":
            self.compare_plot.set_rows([])
            self.compare_plot.setTitle("Architecture comparison: pick a collective or training workload")
            return
        self.compare_plot.setTitle("One round of this workload on every architecture (computing...)")
        kind, params, devices = sc.workload, dict(sc.params), f.n_chips
        self.jobs.submit("compare", lambda progress: compare(kind, params, devices, progress),
                         self._on_compared,
                         lambda msg, details: self.statusBar().showMessage(f"comparison failed: {msg}"))

    def _on_compared(self, rows) -> None:
        self.compare_plot.setTitle("One round of this workload on every architecture")
        self.compare_plot.set_rows(rows, self.sim.spec.name)

    def request_training_comparison(self) -> None:
        """Iteration breakdown and time to train here and on every preset (sim_core.training), off the GUI thread."""
        self.compare_plot.setTitle("Training: estimating this machine and every architecture (computing...)")
        sim = self.sim
        self.jobs.submit("compare", lambda progress: training_comparison(sim, progress), self._on_training_compared,
                         lambda msg, details: self.statusBar().showMessage(f"training comparison failed: {msg}"))

    def _on_training_compared(self, result: dict) -> None:
        self.training_result = result
        cur = result["current"]
        rows = [cur] + [r for r in result["rows"] if "error" not in r]
        notes = [f"  {r['days']:,.1f} days" if r.get("days") is not None else "" for r in rows]
        self.compare_plot.set_rows(rows, cur["label"], notes)
        self.compare_plot.setTitle(training_title(result))

    # ------------------------------------------------------------------ per frame
    def _on_frame(self) -> None:
        c = self.controller
        self.view.update_frame(c.engine, c.display_t, throttle=c.state == PLAYING)
        self._frames += 1
        self._update_clock()
        if c.state != PLAYING:
            self.refresh_plots()
            return
        # Spread plot work: at most one plot redraws per frame, so no frame spikes.
        slot = self._frames % PLOT_EVERY
        plots = self._live_plots()
        if slot < len(plots):
            plots[slot].refresh(c.engine)
        elif slot == len(plots) and self.inspector.target:
            self.inspector.refresh(self.sim)

    def _live_plots(self) -> list:
        return [self.util_plot, self.inflight_plot, self.rate_plot, self.heatmap]

    def refresh_plots(self) -> None:
        eng = self.controller.engine
        for p in self._live_plots():
            p.refresh(eng)
        if self.inspector.target:
            self.inspector.refresh(self.sim)

    def _update_clock(self) -> None:
        c = self.controller
        rate = c.speed * self.sim.sim_rate_s
        limited = "  (sim-limited)" if c.sim_limited else ""
        refused = c.engine.messages_refused
        # Past saturation the sources fill up; say so rather than hide the packets dropped.
        full = f"   {refused:,} packets refused (source queues full)" if refused else ""
        self.clock.setText(f"t = {rm.format_time(c.display_t)}   {_speed_text(c.speed)}: 1 s shows "
                           f"{rm.format_time(rate)}{limited}{full}")

    def cancel_background_work(self) -> None:
        """The Cancel button: stop rebuilds and comparisons; what is on screen keeps running."""
        for name in ("scenario", "compare"):
            self.jobs.cancel(name)
        self.progress.hide()
        self.cancel_action.setVisible(False)
        self.statusBar().showMessage("Background work cancelled; the current scene keeps running", 4000)

    def _on_state_changed(self, state: str) -> None:
        self.actions["play"].setText("Pause" if state == PLAYING else "Play")

    def _on_speed_changed(self, speed: float) -> None:
        self.speed_slider.blockSignals(True)
        self.speed_slider.setValue(int(round(math.log10(speed) * 100)))
        self.speed_slider.blockSignals(False)
        self._update_clock()

    def _on_picked(self, target, path) -> None:
        if target and target[0] == "chip":
            self.heatmap.set_chip(target[1])
        if target:
            self.inspector.pin(self.sim, target)
            self.left_tabs.setCurrentWidget(self.inspector)

    # ------------------------------------------------------------------ actions
    def act_play(self) -> None:
        self.controller.toggle()

    def act_step(self) -> None:
        self.controller.step()

    def act_step_back(self) -> None:
        if not self.controller.step_back():
            self.statusBar().showMessage("No earlier snapshot kept", 3000)

    def act_reset(self) -> None:
        self.controller.reset()
        self.view.fit()

    def act_faster(self) -> None:
        self.controller.faster()

    def act_slower(self) -> None:
        self.controller.slower()

    def act_fit(self) -> None:
        self.view.fit()

    def act_next_architecture(self) -> None:
        ids = preset_ids()
        cur = self.sim.scenario.architecture
        nxt = ids[(ids.index(cur) + 1) % len(ids)] if cur in ids else ids[0]
        self.request_scenario(self.sim.scenario.replace(architecture=nxt, size=None, dims=None, tiles=None,
                                                        sim_rate_s=0.0, name=f"{self.sim.scenario.name}@{nxt}"))

    def act_open_architecture(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open architecture", "", "Architecture (*.toml)")
        if path:
            self.open_architecture_file(path)

    def open_architecture_file(self, path: str) -> None:
        """Run the current workload on the architecture in ``path``; errors go to the message bar."""
        sc = self.sim.scenario.replace(architecture=str(path), size=None, dims=None, tiles=None, sim_rate_s=0.0,
                                       name=f"custom:{Path(path).name}")
        self.request_scenario(sc)

    def act_save_architecture(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save architecture", f"{self.sim.spec.id}.toml",
                                              "Architecture (*.toml)")
        if path:
            self._save(lambda: export_architecture(self.sim.spec, path), path)

    def act_save_scene(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save as scene", "my-scene.toml", "Scene (*.toml)")
        if path:
            self.save_scene_file(path)

    def save_scene_file(self, path: str) -> bool:
        """Save the running scenario and its current time as a scene; errors go to the message bar."""
        try:
            save_scene(self.sim, path)
        except (SpecError, OSError) as exc:
            self.message_bar.show_error(f"Could not save the scene: {exc}", "")
            return False
        self.statusBar().showMessage(f"Saved scene {path} (open it with --scene or the scene browser)", 5000)
        return True

    def act_export_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export view", "meshscope.png", "PNG image (*.png)")
        if path:
            self.export_png(path)

    def export_png(self, path: str, whole_window: bool = False) -> bool:
        widget = self if whole_window else self.view
        return self._save(lambda: export.export_png(widget, path), path)

    def act_export_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export metrics", "meshscope-metrics.csv", "CSV (*.csv)")
        if path:
            self._save(lambda: export.export_csv([self.controller.engine], path), path)

    def _save(self, write, path: str) -> bool:
        """Run an atomic save; a failure (disk full, no permission) is shown, the old file kept."""
        try:
            write()
        except OSError as exc:
            self.message_bar.show_error(f"Could not save {path}: {exc.strerror or exc}; nothing was overwritten",
                                        str(exc))
            return False
        self.statusBar().showMessage(f"Saved {path}", 4000)
        return True

    def act_quit(self) -> None:
        self.close()

    def act_about(self) -> None:
        box = QMessageBox(QMessageBox.Information, "About Meshscope", about_text(), QMessageBox.Ok, self)
        box.setModal(False)
        box.setAttribute(Qt.WA_DeleteOnClose)
        box.show()

    # ------------------------------------------------------------------ settings and close
    def _restore_settings(self) -> None:
        s = self.settings
        if s is None:
            return
        geo = s.value("window/geometry")
        if isinstance(geo, QByteArray):
            self.restoreGeometry(geo)
        state = s.value("window/state")
        if isinstance(state, QByteArray):
            self.restoreState(state)
        speed = s.value("sim/speed")
        if speed is not None:
            try:
                self.controller.set_speed(float(speed))
            except (TypeError, ValueError):
                pass

    def save_settings(self) -> None:
        s = self.settings
        if s is None:
            return
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        s.setValue("sim/speed", self.controller.speed)
        s.setValue("sim/scenario", scenario_to_json(self.sim.scenario))
        s.sync()

    def shutdown(self) -> None:
        """Stop the clock, the debounce timer and the worker threads."""
        self.controller.shutdown()
        self.statusBar().clearMessage()  # stops the status bar's own timeout timer
        self.params.shutdown()
        self.jobs.shutdown()

    def closeEvent(self, event) -> None:
        self.save_settings()
        self.shutdown()
        super().closeEvent(event)


def training_title(result: dict) -> str:
    """One line: the model, this machine's iteration time and days to train, the comparison basis."""
    cur = result["current"]
    b = result["budget"]
    what = f"{b['tokens'] / 1e9:g} B tokens" if "tokens" in b else f"{b.get('epochs', 0):g} epochs"
    days = f", {cur['days']:,.1f} days to train ({what})" if cur.get("days") is not None else ""
    return (f"{result['model']}: {rm.format_time(cur['iteration_s'])} per iteration here{days}; "
            f"others at equal chip power ({result['power_W'] / 1e3:,.1f} kW)")


def _speed_text(speed: float) -> str:
    return f"{speed:.3g}x" if speed >= 1 else f"1/{1 / speed:.3g}x"


def scenario_to_json(sc: Scenario) -> str:
    return json.dumps(dataclasses.asdict(sc))


def scenario_from_json(text: str) -> Scenario:
    d = json.loads(text)
    for key in ("tiles", "dims"):
        if d.get(key) is not None:
            d[key] = tuple(d[key])
    return Scenario(**d)


def about_text() -> str:
    import numpy

    return (f"<h3>Meshscope {APP_VERSION}</h3>"
            "<p>Why deep-learning hardware is built the way it is: tensors crossing on-chip meshes and "
            "off-chip links, simulated live.</p>"
            f"<p>sim_core {core_version} &middot; PySide6 {pyside_version} &middot; pyqtgraph {pg.__version__} "
            f"&middot; NumPy {numpy.__version__} &middot; Python {platform.python_version()}</p>"
            "<p>Hardware figures and their public sources: each architecture's description and sources.</p>")


def load_saved_scenario(settings: QSettings) -> Scenario | None:
    text = settings.value("sim/scenario")
    if not text:
        return None
    try:
        return scenario_from_json(str(text))
    except (TypeError, ValueError, SpecError):
        return None
