"""The main window: mesh view in the middle, knobs on the left, live numbers around it.

This module wires the parts together and runs the per-frame redraw; each other job has
its own module: layout (``main_layout``), file and export actions (``file_actions``),
the comparison chart (``comparison_panel``), remembered settings (``window_settings``),
the clock (``app.ui.clock``), what the window shows as data (``window_state``).
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QMainWindow

from sim_core import preset_ids

from app.model import render_model as rm
from app.model.describe import kind_name, tooltip_html
from app.model.scenario import Scenario, build_simulation
from app.ui.actions import Actions
from app.ui.clock import compute_note
from app.ui.controller import PLAYING, Controller, speed_index
from app.ui.shortcuts import ShortcutGuard
from app.ui.theme import app_icon
from app.ui.workers import JobRunner
from app.windows import main_layout, window_settings
from app.windows.file_actions import APP_VERSION, FileActions, about_text  # noqa: F401 (re-exported)
from app.windows.window_settings import load_saved_scenario  # noqa: F401 (re-exported)

PLOT_EVERY = 4  # one live plot redraws per frame, so each of the four is redrawn every 4th frame
SINGLE_KEYS = (Qt.Key_Space, Qt.Key_Left, Qt.Key_Right, Qt.Key_R, Qt.Key_A, Qt.Key_F, Qt.Key_BracketLeft,
               Qt.Key_BracketRight)


class MainWindow(QMainWindow):
    """Meshscope's window. ``settings`` (a QSettings) remembers layout and last choices."""

    def __init__(self, sim, settings: QSettings | None = None, *, compare_on_start: bool = True):
        super().__init__()
        self.setWindowTitle("Meshscope")
        self.setWindowIcon(app_icon())
        self.settings = settings
        self.sim = sim
        self.jobs = JobRunner(self)
        self.controller = Controller(sim, self)
        self.files = FileActions(self)
        self._frames = 0
        main_layout.build_central(self)
        main_layout.build_docks(self)
        self.actions = Actions(self, owners=(self, self.files))
        self.actions["skip_idle"].setCheckable(True)
        self.actions["skip_idle"].setChecked(True)
        main_layout.build_toolbar(self)
        main_layout.build_menus(self)
        main_layout.build_status_bar(self)
        self.cancel_action = self.cancel_button
        self.compare_plot = self.comparison.plot
        self.guard = ShortcutGuard(SINGLE_KEYS, self)
        self.guard.watch(self)
        self._connect()
        self.compare_on_start = compare_on_start
        self._install(sim)
        window_settings.restore(self, settings)

    def _connect(self) -> None:
        c = self.controller
        c.frame.connect(self._on_frame)
        c.error.connect(self.message_bar.show_error)
        c.state_changed.connect(self._on_state_changed)
        c.speed_changed.connect(self._on_speed_changed)
        self.jobs.busy_changed.connect(self.progress.setVisible)
        self.jobs.busy_changed.connect(self.cancel_button.setVisible)
        self.cancel_button.clicked.connect(self.cancel_background_work)
        self.comparison.failed.connect(self.statusBar().showMessage)
        self.params.scenario_edited.connect(self.request_scenario)
        self.view.picked.connect(self._on_picked)
        self.view.describe = lambda target: tooltip_html(self.sim, target)

    # ------------------------------------------------------------------ simulation swap
    def _install(self, sim) -> None:
        self.sim = sim
        self.inspector.clear()  # ids of the previous fabric mean nothing (or something else) here
        self.view.engine = sim.engine
        self.view.set_fabric(sim.fabric)  # before the controller emits a frame of the new engine
        if self.controller.sim is not sim:
            self.controller.set_simulation(sim)
        self.util_plot.set_kinds(sorted(set(np.unique(sim.fabric.link_kind).tolist())))
        self.heatmap.set_chip(0)
        self.params.show_scenario(sim.scenario, sim.spec)
        self._update_titles()
        self._on_speed_changed(self.controller.speed)
        self._on_frame()
        if self.compare_on_start:
            self.request_comparison()

    def _update_titles(self) -> None:
        sim, f = self.sim, self.sim.fabric
        algo = getattr(sim.workload, "algo_used", None)
        extra = f" ({algo})" if algo else ""
        self.title.setText(f"{sim.spec.name}: {rm.plural(int(f.n_chips), 'chip')} x {f.tile_rows}x{f.tile_cols} "
                           f"cores, {f.n_links:,} links  |  {sim.scenario.workload}{extra}")
        self.title.setToolTip(sim.spec.description)
        sw = "".join(f'<span style="color: rgb{tuple(int(v) for v in rm.KIND_RGB[k])}">&#9632;</span>'
                     f"&nbsp;{kind_name(k)} &nbsp; " for k in sorted(set(np.unique(f.link_kind).tolist())))
        self.legend.setText(f"{sw} <b>dots</b>: chunks of a tensor (colour = channel/tensor), "
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
        self.comparison.request(self.sim)

    @property
    def training_result(self) -> dict | None:
        return self.comparison.training_result

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
            plots[slot].refresh(c.engine, c.display_t)
        if slot == 0 and self.inspector.target:
            self.inspector.refresh(self.sim)

    def _live_plots(self) -> list:
        # Slot 0 is also the frame on which the mesh view redraws its link loads (its
        # LINK_EVERY frames counted from the same first frame): the heatmap, the cheapest
        # plot to redraw, goes there, so those two costs do not pile up on one frame.
        return [self.heatmap, self.util_plot, self.inflight_plot, self.rate_plot]

    def refresh_plots(self) -> None:
        c = self.controller
        for p in self._live_plots():
            p.refresh(c.engine, c.display_t)
        if self.inspector.target:
            self.inspector.refresh(self.sim)

    def _update_clock(self) -> None:
        self.clock.show_state(self.controller, self.sim)
        note = compute_note(self.sim)
        self.badge.setText(note)
        self.badge.setVisible(bool(note))

    def cancel_background_work(self) -> None:
        """The Cancel button: stop rebuilds and comparisons; what is on screen keeps running."""
        for name in ("scenario", "compare"):
            self.jobs.cancel(name)
        self.progress.hide()
        self.cancel_button.hide()
        self.statusBar().showMessage("Background work cancelled; the current scene keeps running", 4000)

    def _on_state_changed(self, state: str) -> None:
        self.actions["play"].setText("Pause" if state == PLAYING else "Play")

    def _on_speed_changed(self, speed: float) -> None:
        self.speed_slider.blockSignals(True)
        self.speed_slider.setValue(speed_index(speed))
        self.speed_slider.blockSignals(False)
        self._update_clock()

    def _on_picked(self, target, path) -> None:
        if target and target[0] == "chip":
            self.heatmap.set_chip(target[1])
        if target:
            self.inspector.pin(self.sim, target)
            self.left_tabs.setCurrentWidget(self.inspector)

    # ------------------------------------------------------------------ simulation actions
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

    def act_skip_idle(self) -> None:
        self.controller.skip_idle = self.actions["skip_idle"].isChecked()
        self._update_clock()

    def act_next_architecture(self) -> None:
        ids = preset_ids()
        cur = self.sim.scenario.architecture
        nxt = ids[(ids.index(cur) + 1) % len(ids)] if cur in ids else ids[0]
        self.request_scenario(self.sim.scenario.replace(architecture=nxt, size=None, dims=None, tiles=None,
                                                        sim_rate_s=0.0, name=f"{self.sim.scenario.name}@{nxt}"))

    # ------------------------------------------------------------------ file actions (see file_actions)
    def open_architecture_file(self, path: str) -> None:
        self.files.open_architecture_file(path)

    def save_scene_file(self, path: str) -> bool:
        return self.files.save_scene_file(path)

    def export_png(self, path: str, whole_window: bool = False) -> bool:
        return self.files.export_png(path, whole_window)

    # ------------------------------------------------------------------ settings and close
    def save_settings(self) -> None:
        window_settings.save(self, self.settings)

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
