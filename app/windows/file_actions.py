"""The File and Help menus of the main window: open and save architectures, save scenes,
export pictures and metrics, the About box. Every save is atomic; a failure is shown in
the message bar and the old file is kept."""
from __future__ import annotations

import platform
from pathlib import Path

import pyqtgraph as pg
from PySide6 import __version__ as pyside_version
from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

from sim_core import SpecError, __version__ as core_version

from app.scenes.save import save_scene
from app.ui import export
from app.ui.export import export_architecture

APP_VERSION = core_version  # one version for the whole product (the package metadata)


class FileActions(QObject):
    """``act_<name>`` handlers of the file actions, working on ``window``'s running simulation."""

    def __init__(self, window):
        super().__init__(window)
        self.win = window

    # ------------------------------------------------------------------ architectures
    def act_open_architecture(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.win, "Open architecture", "", "Architecture (*.toml)")
        if path:
            self.open_architecture_file(path)

    def open_architecture_file(self, path: str) -> None:
        """Run the current workload on the architecture in ``path``; errors go to the message bar."""
        sc = self.win.sim.scenario.replace(architecture=str(path), size=None, dims=None, tiles=None, sim_rate_s=0.0,
                                           name=f"custom:{Path(path).name}")
        self.win.request_scenario(sc)

    def act_open_sweep(self) -> None:
        """File > Open sweep results: a chart of the table; a clicked point runs here."""
        from app.model.sweep_table import scenario_for_point
        from app.windows.sweep_window import open_sweep_results
        open_sweep_results(self.win, None, lambda point: self.win.request_scenario(
            scenario_for_point(point, self.win.sim.scenario)))

    def act_save_architecture(self) -> None:
        sim = self.win.sim
        path, _ = QFileDialog.getSaveFileName(self.win, "Save architecture", f"{sim.spec.id}.toml",
                                              "Architecture (*.toml)")
        if path:
            self.save(lambda: export_architecture(sim.spec, path), path)

    # ------------------------------------------------------------------ scenes and exports
    def act_save_scene(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.win, "Save as scene", "my-scene.toml", "Scene (*.toml)")
        if path:
            self.save_scene_file(path)

    def save_scene_file(self, path: str) -> bool:
        """Save the running scenario and its current time as a scene; errors go to the message bar."""
        try:
            save_scene(self.win.sim, path)
        except (SpecError, OSError) as exc:
            self.win.message_bar.show_error(f"Could not save the scene: {exc}", "")
            return False
        self.win.statusBar().showMessage(f"Saved scene {path} (open it with --scene or the scene browser)", 5000)
        return True

    def act_export_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.win, "Export view", "meshscope.png", "PNG image (*.png)")
        if path:
            self.export_png(path)

    def export_png(self, path: str, whole_window: bool = False) -> bool:
        widget = self.win if whole_window else self.win.view
        return self.save(lambda: export.export_png(widget, path), path)

    def act_export_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.win, "Export metrics", "meshscope-metrics.csv", "CSV (*.csv)")
        if path:
            self.save(lambda: export.export_csv([self.win.controller.engine], path), path)

    def save(self, write, path: str) -> bool:
        """Run an atomic save; a failure (disk full, no permission) is shown, the old file kept."""
        try:
            write()
        except OSError as exc:
            self.win.message_bar.show_error(f"Could not save {path}: {exc.strerror or exc}; nothing was overwritten",
                                            str(exc))
            return False
        self.win.statusBar().showMessage(f"Saved {path}", 4000)
        return True

    # ------------------------------------------------------------------ window
    def act_quit(self) -> None:
        self.win.close()

    def act_about(self) -> None:
        box = QMessageBox(QMessageBox.Information, "About Meshscope", about_text(), QMessageBox.Ok, self.win)
        box.setModal(False)
        box.setAttribute(Qt.WA_DeleteOnClose)
        box.show()


def about_text() -> str:
    import numpy

    return (f"<h3>Meshscope {APP_VERSION}</h3>"
            "<p>Why deep-learning hardware is built the way it is: tensors crossing on-chip meshes and "
            "off-chip links, simulated live.</p>"
            f"<p>sim_core {core_version} &middot; PySide6 {pyside_version} &middot; pyqtgraph {pg.__version__} "
            f"&middot; NumPy {numpy.__version__} &middot; Python {platform.python_version()}</p>"
            "<p>Hardware figures and their public sources: each architecture's description and sources.</p>")
