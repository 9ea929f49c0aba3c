"""SceneBrowser: every shipped scene as a thumbnail with its title and one-line point.

Thumbnails are rendered off the GUI thread: a worker runs the scene's first pane for a
short while and paints its links, shaded by utilization, into a ``QImage`` (QPainter on
a QImage is safe outside the GUI thread; widgets are not). Each is cached as a PNG under
a key made of the scene file, the architecture files it can use (the shipped presets
and the scene folder's own), the app version and the engine's source, so a changed
preset, engine or release renders afresh. The list shows at once, with placeholders.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import metadata, resources
from pathlib import Path

import numpy as np
from PySide6.QtCore import QLineF, QSize, QStandardPaths, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QDialog, QListWidget, QListWidgetItem, QVBoxLayout

from sim_core.atomic_io import write_atomic_with

from app.model import render_model as rm
from app.scenes.spec import load_scene, shipped_scenes
from app.ui.workers import JobRunner

THUMB = QSize(320, 200)
WARMUP_STEPS = 60
BACKGROUND = QColor(11, 14, 19)


def cache_dir() -> Path:
    base = QStandardPaths.writableLocation(QStandardPaths.CacheLocation) or str(Path.home() / ".cache" / "meshscope")
    d = Path(base) / "thumbnails"
    d.mkdir(parents=True, exist_ok=True)
    return d


@lru_cache(maxsize=1)
def _shared_key() -> bytes:
    """What every thumbnail depends on besides its scene: version, presets, engine source."""
    try:
        version = metadata.version("meshscope")
    except metadata.PackageNotFoundError:
        version = "unknown"
    h = hashlib.sha256(version.encode())
    presets = Path(str(resources.files("sim_core.spec") / "presets"))
    engine = Path(str(resources.files("sim_core") / "engine"))
    for f in sorted(presets.glob("*.toml")) + sorted(engine.glob("*.py")):
        h.update(f.name.encode() + f.read_bytes())
    return h.digest()


def cache_key(path: Path) -> str:
    """Hex key of ``path``'s thumbnail: the scene, its folder's architecture files, version, presets, engine."""
    h = hashlib.sha256(_shared_key())
    h.update(path.read_bytes())
    for f in sorted(path.parent.glob("*.toml")):
        if not f.name[:1].isdigit():  # architectures next to the scenes (noc-lab-16x16.toml)
            h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()[:20]


def cached_path(path: Path) -> Path:
    return cache_dir() / f"{path.stem}-{cache_key(path)}.png"


def thumbnail_image(path: Path) -> QImage:
    """The scene's thumbnail (from the cache, or rendered and cached); safe on any thread."""
    cached = cached_path(path)
    img = QImage(str(cached)) if cached.exists() else QImage()
    if not img.isNull():
        return img
    img = render_thumbnail(path)

    def write(tmp: str) -> None:
        if not img.save(tmp, "PNG"):
            raise OSError("PNG encoder failed")
    try:  # a cache: written atomically so a half-written thumbnail is never read back
        write_atomic_with(cached, write)
    except OSError:
        pass  # no cache this time; the thumbnail itself is fine
    return img


def render_thumbnail(path: Path, size: QSize = THUMB) -> QImage:
    """Run the scene's first pane briefly and paint its links, shaded by how busy they were."""
    from app.scenes.runner import SceneRun
    from sim_core.engine.view import link_average_utilization
    run = SceneRun(load_scene(path), str(path), fast=True)
    run.enter_beat(0)
    sim = run.sims[0]
    for _ in range(WARMUP_STEPS):
        sim.engine.step(sim.step_s * 4)
    f = sim.fabric
    geom = rm.link_geometry(f.node_x, f.node_y, f.link_src, f.link_dst, f.link_kind)
    levels = rm.link_levels(link_average_utilization(sim.engine))
    img = QImage(size, QImage.Format_RGB32)
    img.fill(BACKGROUND)
    xs, ys = np.r_[geom.x0, geom.x1], np.r_[geom.y0, geom.y1]
    s = 0.9 * min(size.width() / max(xs.max() - xs.min(), 1e-9), size.height() / max(ys.max() - ys.min(), 1e-9))
    cx, cy = 0.5 * (xs.max() + xs.min()), 0.5 * (ys.max() + ys.min())
    px = lambda x: size.width() / 2 + (x - cx) * s  # noqa: E731
    py = lambda y: size.height() / 2 - (y - cy) * s  # noqa: E731
    p = QPainter(img)
    p.setRenderHint(QPainter.Antialiasing)
    for kind in np.unique(geom.kind):
        for level in np.unique(levels[geom.kind == kind]):
            sel = np.flatnonzero((geom.kind == kind) & (levels == level))
            p.setPen(QPen(QColor(*rm.level_rgb(int(kind), int(level))), 1.5 if kind else 1.0))
            p.drawLines([QLineF(px(geom.x0[i]), py(geom.y0[i]), px(geom.x1[i]), py(geom.y1[i])) for i in sel])
    p.end()
    return img


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
        self.jobs = JobRunner(self)
        placeholder = QPixmap(THUMB)
        placeholder.fill(BACKGROUND)
        self.pending = 0
        for stem, path in shipped_scenes().items():
            scene = load_scene(path)
            item = QListWidgetItem(QIcon(placeholder), f"{scene.order}. {scene.title}\n{scene.point}")
            item.setToolTip(scene.point)
            item.setData(Qt.UserRole, str(path))
            item.setTextAlignment(Qt.AlignHCenter | Qt.AlignTop)
            self.list.addItem(item)
            self.pending += 1
            self.jobs.submit(f"thumb-{stem}", lambda progress, p=path: thumbnail_image(p),
                             lambda img, it=item: self._on_thumbnail(it, img), lambda m, d: self._on_thumbnail(None, None))
        self.list.itemActivated.connect(self._on_activated)
        self.setAttribute(Qt.WA_DeleteOnClose)

    def _on_thumbnail(self, item, img) -> None:
        self.pending -= 1
        if item is not None and img is not None and not img.isNull():
            item.setIcon(QIcon(QPixmap.fromImage(img)))

    def _on_activated(self, item) -> None:
        self.chosen.emit(item.data(Qt.UserRole))
        self.close()

    def closeEvent(self, event) -> None:
        self.jobs.shutdown()
        super().closeEvent(event)
