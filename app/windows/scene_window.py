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

import numpy as np
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
from app.scenes.present import chart_spec, fill_text, message_spec
from app.scenes.runner import SceneRun, scene_study, bisection_links, core_links
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
BEAT_CSS = "background: #161c25; color: #f0f0f0; border-radius: 6px; padding: 6px 10px;"
FONTS_PT = {  # widget: (presenter, normal); presenter sizes read from the back of a room at 1280x720
    "title": (24, 17), "point": (15, 11), "overlay": (18, 13), "lines": (13, 11), "chart": (13, 10)}


def plain_text(text: str) -> str:
    """A label's text as the audience reads it: no Markdown stars, HTML tags or entities."""
    import html
    import re
    return html.unescape(re.sub(r"<[^>]+>", "", text.replace("**", ""))).replace("\xa0", " ").strip()


def clock_text(t_s: float) -> str:
    return f"t = {rm.format_time(t_s)} simulated (one clock for every pane)"


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
        self.bisection = None
        self.check_result = None
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
        self.chart_title = QLabel()
        self.chart_title.setWordWrap(True)
        self.chart_title.setAlignment(Qt.AlignHCenter)
        chart_box = QWidget()
        cl = QVBoxLayout(chart_box)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addWidget(self.chart_title)
        cl.addWidget(self.chart, 1)
        split.addWidget(chart_box)
        self.split = split
        split.setSizes([900, 500])
        lay.addWidget(split, 1)
        # The beat text has its own band under the panes: it never covers chips or switches.
        self.overlay = QLabel()
        self.overlay.setWordWrap(True)
        self.overlay.setTextFormat(Qt.MarkdownText)
        lay.addWidget(self.overlay)
        self.finish = QLabel()
        self.finish.setToolTip("Both panes run on one simulated clock; the bar compares their last finished round")
        self.check = QLabel()
        self.check.setWordWrap(True)
        self.clock = QLabel()
        self.finish.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.finish, 1)
        row.addWidget(self.clock, 0, Qt.AlignRight | Qt.AlignBottom)
        lay.addLayout(row)
        lay.addWidget(self.check)
        self.stack.addWidget(page)
        blank = QWidget()
        blank.setStyleSheet("background: black;")
        self.stack.addWidget(blank)
        self.setCentralWidget(self.stack)
        self.views: list[MeshView] = []
        self.pane_labels: list[QLabel] = []
        self._apply_fonts()

    def _apply_fonts(self) -> None:
        pt = {k: v[0 if self.presenting else 1] for k, v in FONTS_PT.items()}
        self.title.setStyleSheet(f"font-size: {pt['title']}pt; font-weight: bold;")
        self.point.setStyleSheet(f"font-size: {pt['point']}pt; color: #c8d0da;")
        self.overlay.setStyleSheet(BEAT_CSS + f"font-size: {pt['overlay']}pt;")
        for w in (self.finish, self.check, self.clock, *self.pane_labels):
            w.setStyleSheet(f"font-size: {pt['lines']}pt;")
        self.check.setStyleSheet(f"font-size: {pt['lines']}pt; color: #9fe0a8;")
        self.chart_title.setStyleSheet(f"font-size: {pt['chart'] + 1}pt; color: #e6e6e6;")
        self.chart.font_pt = pt["chart"]
        # The clock's text changes every frame: as wide as its widest text, it never waits a frame for
        # the layout to widen it (a recorded frame showed "... for every pan").
        self.clock.ensurePolished()
        self.clock.setMinimumWidth(self.clock.fontMetrics().horizontalAdvance(clock_text(888.8e-3)) + 2)

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
            self._apply_fonts()
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
        share = scene.view.chart_width
        self.split.setSizes([int(1000 * (1 - share)), int(1000 * share)])
        self._show_chart(message_spec("computing these numbers..."))
        chk = scene.check
        self.check.setText(f"Checking: {chk.says} (the engine is computing it...)" if chk else "")
        self.jobs.submit("study", lambda progress: run.compute_study(), lambda st, r=run: self._on_study(r, st),
                         lambda msg, details: self.message_bar.show_error(f"Study failed: {msg}", details))
        self.goto_beat(0)
        return True

    def _prefetch_next(self) -> None:
        """Compute the next scene's numbers in the background (cached), so it opens with them."""
        try:
            path = self.neighbour_scene(+1)
            nxt = load_scene(path)
        except (SpecError, ValueError):
            return
        fast = self.fast  # only the study: building the next scene's panes would cost seconds and memory
        self.jobs.submit("prefetch", lambda progress: scene_study(nxt, str(path), fast), lambda st: None,
                         lambda m, d: None)

    def goto_beat(self, i: int) -> None:
        """Show beat ``i``: replay the scene's parameter changes from the start (deterministic)."""
        if i > 0 or self.run.beat >= 0:
            study = self.run.study
            self.run = SceneRun(self.scene, str(self.path), fast=self.fast)
            self.run.study = study
        for j in range(i + 1):
            beat = self.run.enter_beat(j)
        self._install()
        self._show_beat_text()
        self.overlay.setToolTip(tooltip_for(beat.text))
        self._highlight(beat.highlight)
        self._show_numbers()

    def _show_beat_text(self) -> None:
        beat = self.scene.beats[self.run.beat]
        values = self.study.values if self.study is not None else None
        self.overlay.setText(f"**{self.run.beat + 1}/{len(self.scene.beats)}** &nbsp; {fill_text(beat.text, values)}")

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
        self.bisection = None
        for view, sim in zip(self.views, self.run.sims):
            links, nodes = [], []
            f = sim.fabric
            try:
                if hl.bisection:
                    links = bisection_links(f).tolist()
                    self.bisection = self.bisection if self.bisection is not None else links
                elif hl.core:
                    links = core_links(f, *hl.core).tolist()
                    nodes = [f.tile_cols * hl.core[0] + hl.core[1]] if links else []
                elif hl.link_kind:
                    links = f.links_of_kind(hl.link_kind).tolist()
                elif hl.path:
                    links = sim.engine.router.path(f.device_node(hl.path[0]), f.device_node(hl.path[1]))
                elif hl.chip is not None:
                    links = [l for l in range(f.n_links) if f.node_chip[f.link_src[l]] == hl.chip]
            except (KeyError, IndexError, ValueError):
                links, nodes = [], []  # a pane without that kind or device: nothing to light up
            view.highlight(links)
            view.mark_nodes(nodes)

    def _on_study(self, run, study) -> None:
        if run.scene is self.scene:
            self.study = study
            self.run.study = study
            self._show_beat_text()
            self._show_numbers()
            self._prefetch_next()

    def _show_numbers(self) -> None:
        st = self.study
        if st is None:
            return
        reveal = self.scene.beats[self.run.beat].reveal
        self._show_chart(chart_spec(st, self.scene.view.chart, reveal))
        self.chart.setToolTip(tooltip_for(st.title + " " + st.note) + ("<br>" if st.note else "") + st.note)
        res = self.run.evaluate_check()
        self.check_result = res
        self.check.setText(res.line() if res else "")
        self.check.setToolTip(f"{res.value_name} = {res.value:.6g} ({res.why})" if res else "")

    def _show_chart(self, spec) -> None:
        self.chart_title.setText(spec.title)
        self.chart_title.setVisible(bool(spec.title))
        self.chart.show_spec(spec)

    # ------------------------------------------------------------------ per frame
    def _on_frame(self) -> None:
        c = self.controller
        for view, sim in zip(self.views, [c.sim, *c.followers]):
            view.update_frame(sim.engine, c.display_t, throttle=c.state == PLAYING)
        self.clock.setText(clock_text(c.display_t))
        self._update_finish_bar()

    def _update_finish_bar(self) -> None:
        self.finish.setText(self.live_line())

    def live_line(self) -> str:
        """One line of live, simulated numbers under the panes (plain words, no ratio: the check has it)."""
        sims = [self.controller.sim, *self.controller.followers]
        parts = []
        if self.bisection:
            from sim_core.engine.view import link_average_utilization
            f = sims[0].fabric
            util = link_average_utilization(sims[0].engine)
            mesh = f.links_of_kind("noc")
            across = mesh[f.node_y[f.link_src[mesh]] == f.node_y[f.link_dst[mesh]]]  # left-right links
            others = np.setdiff1d(across, self.bisection)
            parts.append(f"the {len(self.bisection)} links crossing the bisection (yellow) are "
                         f"{util[self.bisection].mean():.0%} busy, the other left-right links "
                         f"{util[others].mean():.0%}")
        if self.scene.study == "congestion" and sims[0].workload.kind == "noc":
            from app.model.studies_noc import little_latency_s
            from sim_core.workloads.noc import CYCLE_S
            warm = float(self.scene.study_params.get("warmup_s", 0.0))
            lat = little_latency_s(sims[0].engine, warm) if sims[0].engine.now_s > warm else None
            queue = int(sims[0].engine.link_queue().max(initial=0))
            parts.append(f"mean latency {lat / CYCLE_S:,.0f} cycles" if lat else "measuring latency...")
            parts.append(f"longest queue {queue} flit{'' if queue == 1 else 's'}")
        names = self.pane_names()
        if sims[0].workload.kind == "training":
            busy = [s.engine.bytes_in_flight > 0 for s in sims]
            computing = [n for n, b in zip(names, busy) if not b]
            if len(sims) == 1 and computing:  # a compute phase: nothing moves on the links, and that is the point
                parts.append("computing, no link traffic")
            elif computing:
                parts.append(f"computing, no link traffic: {', '.join(computing)}")
        rounds = [s.workload.last_round_s() for s in sims]
        if any(r is not None for r in rounds) and sims[0].workload.kind != "noc":
            parts.append("last animated round: " + ", ".join(
                f"{n} {rm.format_time(r) if r is not None else 'running...'}".strip() for n, r in zip(names, rounds)))
        return "; ".join(parts)

    def pane_names(self) -> list[str]:
        """Short names for the live line: none for a lone pane (its label is above it), else each
        label up to its colon (or the preset's name)."""
        sims = [self.controller.sim, *self.controller.followers]
        if len(sims) == 1:
            return [""]
        return [p.label.split(":")[0] or s.spec.name for p, s in zip(self.scene.panes, sims)]

    def dump_state(self) -> dict:
        """What the window shows, as data: every visible text, the chart's values, the check."""
        spec = self.chart.spec
        beat = self.scene.beats[self.run.beat]
        texts = [plain_text(t) for t in (self.title.text(), self.point.text(), self.overlay.text(), self.check.text(),
                 self.finish.text(), self.clock.text(), *[l.text() for l in self.pane_labels[:len(self.scene.panes)]])]
        res = self.run.evaluate_check() if self.study is not None else None
        return {
            "scene": self.scene.title, "path": str(self.path), "beat": self.run.beat + 1,
            "beats": len(self.scene.beats), "presenting": self.presenting,
            "visible_text": [t for t in texts if t] + spec.visible_text(),
            "beat_text": plain_text(self.overlay.text()), "check_line": self.check.text(),
            "chart": spec.to_json(), "check": res.to_json() if res else None,
            "study_values": dict(self.study.values) if self.study is not None else {},
            "pane_values": self.run.pane_values(), "highlight": beat.highlight.model_dump(),
            "simulated_s": self.controller.engine.now_s,
        }

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

    def set_presenting(self, on: bool, full_screen: bool = True) -> None:
        """Presenter mode: controls hidden, large fonts; full screen unless a size was asked for."""
        self.presenting = on
        for w in (self.toolbar, self.statusBar(), self.menuBar()):
            w.setVisible(not on)
        if on and full_screen:
            self.showFullScreen()
        elif not on:
            self.showNormal()
        self._apply_fonts()
        self._show_numbers()

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
