"""SceneBrowser: every shipped scene as a thumbnail with its title and one-line point.

Thumbnails are rendered offscreen (the first pane after a short run, drawn by a
``MeshView``) and cached as PNGs keyed by the scene file's content hash, so only the
first start pays for them.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from PySide6.QtCore import QSize, QStandardPaths, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QDialog, QListWidget, QListWidgetItem, QVBoxLayout

from sim_core.atomic_io import write_atomic_with

from app.scenes.spec import load_scene, shipped_scenes

THUMB = QSize(320, 200)
WARMUP_STEPS = 60


def cache_dir() -> Path:
    base = QStandardPaths.writableLocation(QStandardPaths.CacheLocation) or str(Path.home() / ".cache" / "meshscope")
    d = Path(base) / "thumbnails"
    d.mkdir(parents=True, exist_ok=True)
    return d


def thumbnail(path: Path) -> QPixmap:
    """The scene's thumbnail: from the cache, or rendered offscreen and cached."""
    key = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    cached = cache_dir() / f"{path.stem}-{key}.png"
    pix = QPixmap(str(cached)) if cached.exists() else QPixmap()
    if not pix.isNull():
        return pix
    pix = render_thumbnail(path)
    def write(tmp: str) -> None:
        if not pix.save(tmp, "PNG"):
            raise OSError("PNG encoder failed")

    try:  # a cache: written atomically so a half-written thumbnail is never read back
        write_atomic_with(cached, write)
    except OSError:
        pass  # no cache this time; the thumbnail itself is fine
    return pix


def render_thumbnail(path: Path) -> QPixmap:
    from app.ui.mesh_view import MeshView
    from app.scenes.runner import SceneRun
    run = SceneRun(load_scene(path), str(path), fast=True)
    run.enter_beat(0)
    sim = run.sims[0]
    for _ in range(WARMUP_STEPS):
        sim.engine.step(sim.step_s * 4)
    view = MeshView()
    view.resize(THUMB)
    view.engine = sim.engine
    view.set_fabric(sim.fabric)
    view.fit()
    view.update_frame(sim.engine, sim.engine.now_s)
    pix = view.grab()
    view.deleteLater()
    return pix


class SceneBrowser(QDialog):
    """Pick a scene; ``chosen(path)`` is emitted on double-click or Enter."""

    chosen = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Scenes")
        self.resize(1100, 720)
        lay = QVBoxLayout(self)
        self.list = QListWidget()
        self.list.setViewMode(QListWidget.IconMode)
        self.list.setIconSize(THUMB)
        self.list.setGridSize(QSize(THUMB.width() + 30, THUMB.height() + 90))
        self.list.setWordWrap(True)
        self.list.setResizeMode(QListWidget.Adjust)
        self.list.setMovement(QListWidget.Static)
        lay.addWidget(self.list)
        for stem, path in shipped_scenes().items():
            scene = load_scene(path)
            item = QListWidgetItem(QIcon(thumbnail(path)), f"{scene.order}. {scene.title}\n{scene.point}")
            item.setToolTip(scene.point)
            item.setData(Qt.UserRole, str(path))
            item.setTextAlignment(Qt.AlignHCenter | Qt.AlignTop)
            self.list.addItem(item)
        self.list.itemActivated.connect(self._on_activated)
        self.setAttribute(Qt.WA_DeleteOnClose)

    def _on_activated(self, item) -> None:
        self.chosen.emit(item.data(Qt.UserRole))
        self.close()
