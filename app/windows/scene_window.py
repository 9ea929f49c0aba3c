"""SceneWindow: a scene told beat by beat, one or two panes on one clock, its numbers beside.

Keys (also in presenter mode, where the toolbar, menus and status bar are hidden):
Right / Page Down: next beat (after the last beat: next scene); Left / Page Up: previous
beat (so in a scene, Left/Right move beats, not simulation steps as in the main window);
Space: play/pause; F: presenter mode (full screen, large fonts); Esc: leave it; B: blank
the screen; H: hide the beat text; S: scene browser. Same scene, same beats -> the same
animation and the same numbers (fixed seeds, rebuilt from the start when going back).
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QMainWindow, QSplitter, QStackedWidget, QToolBar, QVBoxLayout,
                               QWidget)

from sim_core import SpecError

from app.model import render_model as rm
from app.ui.controller import PLAYING, Controller
from app.model.glossary import tooltip_for
from app.ui.mesh_view import MeshView
from app.ui.message_bar import MessageBar
from app.scenes.runner import SceneRun
from app.scenes.spec import load_scene, resolve_scene_path, shipped_scenes
from app.ui.study_chart import StudyChart
from app.ui.workers import JobRunner

KEYS = {  # name: (text, shortcuts, tooltip)
    "next_beat": ("Next", ("Right", "PgDown"), "Next beat; after the last beat, the next scene"),
    "prev_beat": ("Back", ("Left", "PgUp"), "Previous beat (replayed from the scene's start)"),
    "play": ("Play / pause", ("Space",), "Run or pause the simulation"),
    "presenter": ("Presenter mode", ("F",), "Full screen, large fonts, controls hidden"),
    "leave_presenter": ("Leave presenter mode", ("Esc",), "Back to the normal window"),
    "blank": ("Blank", ("B",), "Blank the screen (press again to show it)"),
    "overlay": ("Beat text", ("H",), "Hide or show the beat text"),
    "browser": ("Scenes...", ("S",), "Pick a scene from thumbnails"),
    "export": ("Export...", ("Ctrl+E",), "Export a PNG, GIF, MP4 or the metrics CSV"),
}
OVERLAY_CSS = "background: rgba(10, 14, 20, 215); color: #f0f0f0; border-radius: 8px; padding: 10px;"


class SceneWindow(QMainWindow):
    """Plays scene files. ``open_scene(path_or_name)`` keeps the previous scene on a bad file."""

    def __init__(self, scene: str, *, fast: bool = False):
        super().__init__()
        self.fast = fast
        self.run: SceneRun | None = None
        self.presenting = False
        self.jobs = JobRunner(self)
        self._build()
        self.actions = {}
        for name, (text, keys, tip) in KEYS.items():
            a = QAction(text, self)
            a.setShortcuts([QKeySequence(k) for k in keys])
            a.setShortcutContext(Qt.WindowShortcut)
            a.setToolTip(f"{tip} ({', '.join(keys)})")
            a.triggered.connect(getattr(self, f"act_{name}"))
            self.addAction(a)
            self.actions[name] = a
        for name in ("prev_beat", "play", "next_beat", "browser", "presenter", "export"):
            self.toolbar.addAction(self.actions[name])
        self.statusBar().showMessage("Right/PgDn: next beat   Left/PgUp: back   Space: play/pause   F: presenter   "
                                     "B: blank   H: beat text   S: scenes   hover a bar: where its number comes from")
        self.controller = None
        self.open_scene(scene)

    # ------------------------------------------------------------------ building
    def _build(self) -> None:
        self.toolbar = QToolBar("Scene")
        self.addToolBar(self.toolbar)
        self.stack = QStackedWidget()
        page = QWidget()
        lay = QVBoxLayout(page)
        self.message_bar = MessageBar()
        self.title = QLabel()
        self.point = QLabel()
        self.point.setWordWrap(True)
        for w in (self.message_bar, self.title, self.point):
            lay.addWidget(w)
        split = QSplitter(Qt.Horizontal)
        self.panes_box = QWidget()
        self.panes_lay = QHBoxLayout(self.panes_box)
        self.panes_lay.setContentsMargins(0, 0, 0, 0)
        split.addWidget(self.panes_box)
        self.chart = StudyChart()
        split.addWidget(self.chart)
        split.setSizes([900, 500])
        lay.addWidget(split, 1)
        self.finish = QLabel()
        self.finish.setToolTip("Both panes run on one simulated clock; the bar compares their last finished round")
        self.check = QLabel()
        self.check.setWordWrap(True)
        self.clock = QLabel()
        for w in (self.finish, self.check, self.clock):
            lay.addWidget(w)
        self.overlay = QLabel(self.panes_box)
        self.overlay.setWordWrap(True)
        self.overlay.setTextFormat(Qt.MarkdownText)
        self.overlay.setStyleSheet(OVERLAY_CSS)
        self.stack.addWidget(page)
        blank = QWidget()
        blank.setStyleSheet("background: black;")
        self.stack.addWidget(blank)
        self.setCentralWidget(self.stack)
        self.views: list[MeshView] = []
        self.pane_labels: list[QLabel] = []
        self._apply_fonts()

    def _apply_fonts(self) -> None:
        big = self.presenting
        self.title.setStyleSheet(f"font-size: {30 if big else 17}pt; font-weight: bold;")
        self.point.setStyleSheet(f"font-size: {18 if big else 11}pt; color: #c8d0da;")
        self.overlay.setStyleSheet(OVERLAY_CSS + f"font-size: {22 if big else 13}pt;")
        for w in (self.finish, self.check, self.clock):
            w.setStyleSheet(f"font-size: {17 if big else 11}pt;")
        self.chart.font_pt = 15 if big else 10

    def _make_views(self, n: int) -> None:
        while len(self.views) < n:
            box = QWidget()
            v = QVBoxLayout(box)
            v.setContentsMargins(0, 0, 0, 0)
            label = QLabel()
            label.setWordWrap(True)
            view = MeshView()
            v.addWidget(label)
            v.addWidget(view, 1)
            self.panes_lay.addWidget(box)
            self.views.append(view)
            self.pane_labels.append(label)
        for i, view in enumerate(self.views):
            view.parentWidget().setVisible(i < n)

    # ------------------------------------------------------------------ scenes and beats
    def open_scene(self, name_or_path: str) -> bool:
        """Load and show a scene; on any SpecError keep the current one and say why."""
        try:
            path = resolve_scene_path(str(name_or_path))
            scene = load_scene(path)
            run = SceneRun(scene, str(path), fast=self.fast)
        except SpecError as exc:
            self.message_bar.show_error(f"Scene not opened: {exc}")
            if self.run is None:
                raise
            return False
        self.message_bar.hide()
        self.path = path
        self.scene = scene
        self.run = run
        self.study = None
        self.title.setText(scene.title)
        self.point.setText(scene.point)
        self.point.setToolTip(tooltip_for(scene.point))
        self._make_views(len(scene.panes))
        self.chart.show_rows("computing the scene's numbers...", [])
        self.jobs.submit("study", lambda progress: run.compute_study(), lambda st, r=run: self._on_study(r, st),
                         lambda msg, details: self.message_bar.show_error(f"Study failed: {msg}", details))
        self.goto_beat(0)
        return True

    def goto_beat(self, i: int) -> None:
        """Show beat ``i``: replay the scene's parameter changes from the start (deterministic)."""
        if i > 0 or self.run.beat >= 0:
            study = self.run.study
            self.run = SceneRun(self.scene, str(self.path), fast=self.fast)
            self.run.study = study
        for j in range(i + 1):
            beat = self.run.enter_beat(j)
        self._install()
        self.overlay.setText(f"**{i + 1}/{len(self.scene.beats)}** &nbsp; {beat.text}")
        self.overlay.setToolTip(tooltip_for(beat.text))
        self._highlight(beat.highlight)
        self._show_numbers()
        self._place_overlay()

    def _install(self) -> None:
        sims = self.run.sims
        if self.controller is None:
            self.controller = Controller(sims[0], self)
            self.controller.frame.connect(self._on_frame)
            self.controller.error.connect(self.message_bar.show_error)
        for view, label, sim, pane in zip(self.views, self.pane_labels, sims, self.scene.panes):
            view.engine = sim.engine
            view.set_fabric(sim.fabric)
            view.fit()
            label.setText(f"<b>{pane.label or sim.spec.name}</b>")
            label.setToolTip(tooltip_for(pane.label + " " + sim.spec.description) or sim.spec.description)
        self.controller.set_simulation(sims[0])
        self.controller.followers = sims[1:]

    def _highlight(self, hl) -> None:
        for view, sim in zip(self.views, self.run.sims):
            links = []
            f = sim.fabric
            try:
                if hl.link_kind:
                    links = f.links_of_kind(hl.link_kind).tolist()
                elif hl.path:
                    links = sim.engine.router.path(f.device_node(hl.path[0]), f.device_node(hl.path[1]))
                elif hl.chip is not None:
                    links = [l for l in range(f.n_links) if f.node_chip[f.link_src[l]] == hl.chip]
            except (KeyError, IndexError, ValueError):
                links = []  # a pane without that kind or device: nothing to light up
            view.highlight(links)

    def _on_study(self, run, study) -> None:
        if run.scene is self.scene:
            self.study = study
            self.run.study = study
            self._show_numbers()

    def _show_numbers(self) -> None:
        st = self.study
        if st is None:
            return
        reveal = self.scene.beats[self.run.beat].reveal
        rows = st.rows if reveal < 0 else st.rows[:reveal]
        chart = self.scene.view.chart
        self.chart.show_rows(st.title, rows, log=chart in ("log-bars", "timeline"), curve=chart == "curve")
        self.chart.setToolTip(tooltip_for(st.title + " " + st.note) + ("<br>" if st.note else "") + st.note)
        res = self.run.evaluate_check()
        self.check.setText(res.line() if res else "")
        self.check.setToolTip(tooltip_for(res.says) if res else "")

    # ------------------------------------------------------------------ per frame
    def _on_frame(self) -> None:
        c = self.controller
        for view, sim in zip(self.views, [c.sim, *c.followers]):
            view.update_frame(sim.engine, c.display_t, throttle=c.state == PLAYING)
        self.clock.setText(f"t = {rm.format_time(c.display_t)} simulated (one clock for every pane)")
        self._update_finish_bar()
        if self.panes_box.size() != getattr(self, "_overlay_for", None):
            self._overlay_for = self.panes_box.size()
            self._place_overlay()

    def _update_finish_bar(self) -> None:
        sims = [self.controller.sim, *self.controller.followers]
        if len(sims) < 2:
            last = sims[0].workload.last_round_s()
            self.finish.setText(f"last round: {rm.format_time(last)} (simulated)" if last else "")
            return
        t = [s.workload.last_round_s() for s in sims]
        names = [p.label.split(":")[0] or s.spec.name for p, s in zip(self.scene.panes, sims)]
        if None in t:
            self.finish.setText("waiting for both panes to finish a round...")
            return
        fast, slow = (0, 1) if t[0] <= t[1] else (1, 0)
        w = [int(300 * x / max(t)) for x in t]
        # Spans size to their content (a div would fill the cell and make both bars equal).
        bars = "".join(f'<tr><td>{names[i]}&nbsp;</td><td><span style="background:{c}">'
                       f'{"&nbsp;" * max(1, w[i] // 6)}</span>&nbsp;{rm.format_time(t[i])}</td></tr>'
                       for i, c in ((0, "#5aaaf8"), (1, "#fa963c")))
        self.finish.setText(f"<table>{bars}</table><b>{names[fast]}</b> finishes a round first, "
                            f"<b>{t[slow] / t[fast]:.2f}x</b> faster (simulated, same clock)")

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        self._place_overlay()

    def _place_overlay(self) -> None:
        box = self.panes_box
        w = max(200, box.width() - 40)
        self.overlay.setFixedWidth(w)
        self.overlay.adjustSize()
        self.overlay.move(20, max(0, box.height() - self.overlay.height() - 20))
        self.overlay.raise_()

    # ------------------------------------------------------------------ actions
    def act_next_beat(self) -> None:
        if self.run.beat + 1 < len(self.scene.beats):
            self.goto_beat(self.run.beat + 1)
        else:
            self.open_scene(str(self.neighbour_scene(+1)))
        self.controller.play()

    def act_prev_beat(self) -> None:
        if self.run.beat > 0:
            self.goto_beat(self.run.beat - 1)
        else:
            self.open_scene(str(self.neighbour_scene(-1)))
        self.controller.play()

    def neighbour_scene(self, step: int) -> Path:
        ships = list(shipped_scenes().values())
        cur = [p.resolve() for p in ships]
        i = cur.index(Path(self.path).resolve()) if Path(self.path).resolve() in cur else -1
        return ships[(i + step) % len(ships)]

    def act_play(self) -> None:
        self.controller.toggle()

    def act_presenter(self) -> None:
        self.set_presenting(not self.presenting)

    def act_leave_presenter(self) -> None:
        self.set_presenting(False)

    def set_presenting(self, on: bool) -> None:
        self.presenting = on
        for w in (self.toolbar, self.statusBar(), self.menuBar()):
            w.setVisible(not on)
        self.showFullScreen() if on else self.showNormal()
        self._apply_fonts()
        self._show_numbers()
        self._place_overlay()

    def act_blank(self) -> None:
        self.stack.setCurrentIndex(1 - self.stack.currentIndex())

    def act_overlay(self) -> None:
        self.overlay.setVisible(not self.overlay.isVisible())

    def act_browser(self) -> None:
        from app.windows.scene_browser import SceneBrowser
        dlg = SceneBrowser(self)
        dlg.chosen.connect(lambda path: (self.open_scene(path), self.controller.play()))
        dlg.show()

    def act_export(self) -> None:
        from app.ui.export_dialog import ask_and_export
        ask_and_export(self)

    def shutdown(self) -> None:
        if self.controller is not None:
            self.controller.shutdown()
        self.jobs.shutdown()

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)
