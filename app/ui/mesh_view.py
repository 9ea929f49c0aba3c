"""MeshView: the fabric drawn to scale, links glowing with load, chunks as particles.

Every graphics item is created once per fabric (``set_fabric``); a frame only calls
``setData``. Links are bucketed by (kind, utilization level) into a few
``PlotCurveItem(connect='pairs')``; particles are one line batch per palette colour: each
chunk is a short round-capped streak pointing where it goes (``QPainter.drawLines`` from
numpy; a per-point ``ScatterPlotItem`` spends milliseconds in Python per 5,000 points).

Level of detail: when a tile is smaller than ``LOD_TILE_PX`` pixels the cores and
on-chip links are hidden and each chip is a filled box shaded by its mean mesh load;
when zoomed in, only the on-chip links inside the view are handed to Qt.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtWidgets import QGraphicsItem, QToolTip

from sim_core import NODE_KINDS
from sim_core.engine.view import UtilizationMeter

from app.model import render_model as rm

LOD_TILE_PX = 3.0
NODE_SPAN_UNITS = 2.5  # a node symbol is drawn at most this many layout units wide
BACKGROUND = "#0b0e13"
NODE_STYLE = {  # kind -> (symbol, size px, colour)
    "hub": ("s", 11, (230, 230, 240)),
    "nic": ("t", 10, (206, 80, 220)),
    "switch": ("d", 18, (255, 255, 255)),
    "host": ("h", 16, (255, 170, 60)),
}
PICK_PX = 9.0
MARK_PX = 26
SERVER_LABEL_Z = 9  # above links and the pinned path (8), below chunks (10)
PARTICLE_PX = 6
LINK_EVERY = 4
NODE_CACHE_MIN = 512  # a node kind with at least this many symbols is drawn from a cached pixmap


class MeshView(pg.PlotWidget):
    """The fabric, its link loads and its chunks; hover for numbers, click to pin.

    Signals
    -------
    hovered(object): the target under the cursor, ``("link", id)``, ``("node", id)``,
        ``("chip", id)`` or None.
    picked(object, object): target clicked and the link ids of the path highlighted.
    """

    hovered = Signal(object)
    picked = Signal(object, object)

    def __init__(self, parent=None):
        super().__init__(parent, background=BACKGROUND)
        self.setAntialiasing(False)
        self.hideAxis("left")
        self.hideAxis("bottom")
        self.setAspectLocked(True)
        self.setMenuEnabled(False)
        self.getPlotItem().hideButtons()
        self.describe = None  # callable(target) -> tooltip text, set by the window
        self.fabric = None
        self._curves: dict[tuple[int, int], pg.PlotCurveItem] = {}
        self._particles: list[pg.PlotCurveItem] = []
        self._streak = 0.2
        self._particle_width = PARTICLE_PX
        self._frame = 0
        self._aggregated = False
        self._node_items: list = []  # (scatter item, full px size, px size shown)
        self._visible = None
        self._levels = None
        self._bucket_key = None
        self._meter = UtilizationMeter()
        self._util = None
        self.last_particles = None
        self.hover_target = None
        self.hover_text = ""
        self.highlighted: list[int] = []
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.scene().sigMouseClicked.connect(self._on_mouse_clicked)
        self.getViewBox().sigRangeChanged.connect(self._on_range_changed)

    # ------------------------------------------------------------------ building
    def set_fabric(self, fabric) -> None:
        """Create every item for ``fabric`` (once per architecture or size change)."""
        self.clear()
        f = self.fabric = fabric
        self._curves.clear()
        self._levels = None
        self._bucket_key = None
        self._meter = UtilizationMeter()
        self._util = None
        self.highlighted = []
        self.geom = rm.link_geometry(f.node_x, f.node_y, f.link_src, f.link_dst, f.link_kind)
        self.kinds_present = sorted(set(np.unique(f.link_kind).tolist()))
        self.boxes = rm.chip_boxes(f.node_x, f.node_y, f.node_chip, f.n_tiles, f.n_chips)
        self._chip_links = rm.chip_link_index(f.link_src, f.link_kind, f.node_chip, f.n_chips)
        self._add_chip_items()
        for kind in self.kinds_present:
            for level in range(rm.N_LEVELS):
                width = (rm.LEVEL_WIDTH_OFFCHIP if kind else rm.LEVEL_WIDTH_ONCHIP)[level]
                pen = pg.mkPen(rm.level_rgb(kind, level), width=width)
                c = pg.PlotCurveItem(connect="pairs", pen=pen, antialias=False, skipFiniteCheck=True)
                c.setSegmentedLineMode("on")
                # Links change a few times a second, particles every frame: cache the links as pixmaps.
                c.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
                c.setZValue(1 + kind * 0.01 + level * 0.1 + (2 if kind else 0))
                self.addItem(c)
                self._curves[(kind, level)] = c
        self._add_node_items()
        self._path_curve = pg.PlotCurveItem(connect="pairs", pen=pg.mkPen((255, 255, 0, 200), width=6),
                                            skipFiniteCheck=True)
        self._path_curve.setZValue(8)
        self.addItem(self._path_curve)
        # A ring round a node a scene points at (scene 4's hot core): above the chunks, which
        # would hide a yellow link highlight under yellow traffic.
        self._marks = pg.ScatterPlotItem(pxMode=True, size=MARK_PX, symbol="o", brush=None,
                                         pen=pg.mkPen((255, 255, 0), width=3))
        self._marks.setZValue(11)
        self._marks.setVisible(False)  # shown by mark_nodes; an empty scatter still costs a paint a frame
        self._marks.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
        self.addItem(self._marks)
        self.marked: list[int] = []
        self._particles = []
        self._particle_width = PARTICLE_PX
        for i, rgb in enumerate(rm.TAG_RGB):
            pen = pg.mkPen(*rgb, width=PARTICLE_PX)
            pen.setCapStyle(Qt.RoundCap)
            s = pg.PlotCurveItem(connect="pairs", pen=pen, antialias=False, skipFiniteCheck=True)
            s.setSegmentedLineMode("on")
            s.setZValue(10)
            self.addItem(s)
            self._particles.append(s)
        self.fit()

    def _add_chip_items(self) -> None:
        # One single-brush bar item per shade: pyqtgraph draws a single-colour item with one
        # drawRects call, while per-bar brushes take its per-rectangle Python path.
        b = self.boxes
        self._server_labels = False
        self._chip_fills = []
        for level in range(rm.SHADE_LEVELS):
            item = pg.BarGraphItem(x0=[], y0=[], width=[], height=[], brush=pg.mkBrush(*rm.shade_rgb(level)),
                                   pen=pg.mkPen(None))
            item.setZValue(-2)
            item.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
            self.addItem(item)
            self._chip_fills.append(item)
        xs, ys = rm.box_segments(b)
        outline = pg.PlotCurveItem(xs, ys, connect="pairs", pen=pg.mkPen((110, 125, 150), width=1))
        outline.setZValue(-1)
        outline.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
        self.addItem(outline)
        self._chip_level = np.full(len(b), -1)
        self._shade(np.zeros(len(b), dtype=np.int64))
        self._add_server_items()

    def _shade(self, lvl: np.ndarray) -> None:
        """Hand each shade item the boxes of the chips at its level (a few setOpts, no per-bar brushes)."""
        self._chip_level = lvl
        b = self.boxes
        order = np.argsort(lvl, kind="stable")
        bounds = np.searchsorted(lvl[order], np.arange(rm.SHADE_LEVELS + 1))
        for level, item in enumerate(self._chip_fills):
            sel = order[bounds[level]:bounds[level + 1]]
            item.setOpts(x0=b[sel, 0], y0=b[sel, 1], width=b[sel, 2] - b[sel, 0], height=b[sel, 3] - b[sel, 1])

    def _add_server_items(self) -> None:
        f = self.fabric
        srv = f.node_server
        n_srv = int(srv.max()) + 1 if srv.size and srv.max() >= 0 else 0
        if n_srv < 2 or n_srv > 256 or f.spec is None or f.spec.topology.kind != "cluster":
            return
        boxes = np.zeros((n_srv, 4))
        for s in range(n_srv):
            m = srv == s
            boxes[s] = f.node_x[m].min(), f.node_y[m].min(), f.node_x[m].max(), f.node_y[m].max()
        boxes += np.array([-1.2, -1.0, 1.2, 1.0])
        xs, ys = rm.box_segments(boxes)
        item = pg.PlotCurveItem(xs, ys, connect="pairs", pen=pg.mkPen((90, 100, 120), width=1, style=Qt.DashLine))
        self.addItem(item)
        if n_srv <= 32:
            self._server_labels = True
            for s in range(n_srv):
                # on a dark plate above the links: the links between servers pass behind "server 1"
                t = pg.TextItem(f"server {s}", color=(170, 180, 200), anchor=(0, 1), fill=pg.mkBrush(11, 14, 19, 220))
                t.setPos(boxes[s, 0], boxes[s, 3])
                t.setZValue(SERVER_LABEL_Z)
                self.addItem(t)

    def _add_node_items(self) -> None:
        f = self.fabric
        tiles = np.arange(f.n_tiles)
        self._tiles = pg.ScatterPlotItem(f.node_x[tiles], f.node_y[tiles], pxMode=True, size=3, pen=None,
                                         brush=pg.mkBrush(150, 165, 190), symbol="s")
        self._tiles.setZValue(0.5)
        self._tiles.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
        self.addItem(self._tiles)
        self._pick_nodes = np.flatnonzero(f.node_kind != 0)
        self._node_items = []
        for kind, (sym, size, rgb) in NODE_STYLE.items():
            idx = np.flatnonzero(f.node_kind == NODE_KINDS.index(kind))
            if idx.size == 0:
                continue
            s = pg.ScatterPlotItem(f.node_x[idx], f.node_y[idx], pxMode=True, size=size, symbol=sym,
                                   pen=pg.mkPen((20, 20, 25), width=1), brush=pg.mkBrush(*rgb))
            s.setZValue(6)
            if idx.size >= NODE_CACHE_MIN:
                # Nodes only change with the zoom; the chunks drawn over them every frame would
                # otherwise have pyqtgraph place thousands of symbols again each frame (a pod's
                # hubs: ~1.8 ms). Only for many: via the pixmap a few edge pixels of antialiased
                # symbols come out one level apart, not worth it for a few dozen symbols.
                s.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
            self.addItem(s)
            self._node_items.append((s, size, size))

    def fit(self) -> None:
        """Fit the whole fabric in the window."""
        f = self.fabric
        if f is None:
            return
        top = 3.0 if self._server_labels else 2.0  # room for the "server N" captions above their boxes
        self.getViewBox().setRange(xRange=(f.node_x.min() - 2, f.node_x.max() + 2),
                                   yRange=(f.node_y.min() - 2, f.node_y.max() + top), padding=0.02)
        self._on_range_changed()

    # ------------------------------------------------------------------ per frame
    def update_frame(self, engine, display_t: float, throttle: bool = False) -> None:
        """Redraw particles for the engine state at ``display_t``, and link loads (every
        ``LINK_EVERY``-th frame when ``throttle``: the load shown is each link's mean since
        the previous redraw of the loads, ``UtilizationMeter``)."""
        if self.fabric is None:
            return
        self._frame += 1
        if self._frame % LINK_EVERY == 0 or not throttle or self._bucket_key != self._vis_key:
            util = self._link_load(engine)
            levels = rm.link_levels(util)
            if self._levels is None or not np.array_equal(levels, self._levels) or self._bucket_key != self._vis_key:
                self._levels = levels
                self._bucket_key = self._vis_key
                self._rebucket(levels)
            self._update_chips(util)
        p = rm.particle_positions(self.geom, engine.chunk_state(), display_t)
        self.last_particles = p
        counts = np.bincount(p.color, minlength=len(self._particles))
        used = np.flatnonzero(counts)
        if used.size == 1:  # one colour (a pod's all-reduce): every chunk, in order, no sort
            sels = {int(used[0]): slice(None)}
        else:  # a stable sort of small ints (uint8: numpy's radix sort) groups the chunks by colour
            order = np.argsort(p.color.astype(np.uint8), kind="stable")
            bounds = np.r_[0, np.cumsum(counts)]
            sels = {int(i): order[bounds[i]:bounds[i + 1]] for i in used}
        length = self._streak
        for i, item in enumerate(self._particles):
            sel = sels.get(i)
            if sel is not None:
                item.setData(*rm.particle_segments(p, length, sel))
            elif item.getData()[0] is not None and len(item.getData()[0]):  # a colour gone: clear it once
                item.setData(np.zeros(0), np.zeros(0))
            if item.isVisible() != (sel is not None):  # Qt skips hidden items: no paint call for an empty one
                item.setVisible(sel is not None)

    def _link_load(self, engine) -> np.ndarray:
        """Each link's mean utilization since the previous sample; the same answer while time stands still."""
        if self._util is None or engine.now_s != self._util[1] or self._util[0].size != self.geom.x0.size:
            self._util = (self._meter.sample(engine), engine.now_s)
        return self._util[0]

    def _rebucket(self, levels: np.ndarray) -> None:
        g = self.geom
        key = g.kind * rm.N_LEVELS + levels
        idx = np.flatnonzero(self._visible) if self._visible is not None else np.arange(key.size)
        k = key[idx]
        order = np.argsort(k, kind="stable")
        idx, k = idx[order], k[order]
        for (kind, level), curve in self._curves.items():
            lo, hi = np.searchsorted(k, [kind * rm.N_LEVELS + level, kind * rm.N_LEVELS + level + 1])
            sel = idx[lo:hi]
            x = np.empty(2 * sel.size)
            y = np.empty(2 * sel.size)
            x[0::2], x[1::2] = g.x0[sel], g.x1[sel]
            y[0::2], y[1::2] = g.y0[sel], g.y1[sel]
            curve.setData(x, y)

    def _update_chips(self, util: np.ndarray) -> None:
        f = self.fabric
        lvl = rm.shade_levels(rm.chip_load_of(util, self._chip_links))
        if not np.array_equal(lvl, self._chip_level):
            self._shade(lvl)

    def _on_range_changed(self, *_):
        if self.fabric is None:
            return
        vb = self.getViewBox()
        (x0, x1), (y0, y1) = vb.viewRange()
        px_per_unit = vb.width() / max(x1 - x0, 1e-9)
        self._streak = min(0.35, 3.0 / max(px_per_unit, 1e-9))  # a short streak: ~3 px, at most 0.35 tile
        # Small tiles: thin chunks, the mesh stays visible; tens of thousands of chunks on a
        # zoomed-out pod draw with flat caps (round caps cost Qt a polygon each).
        width = PARTICLE_PX if px_per_unit >= 14 else (3 if px_per_unit >= LOD_TILE_PX else 2)
        if width != self._particle_width:
            self._particle_width = width
            for item in self._particles:
                pen = item.opts["pen"]
                pen.setWidth(width)
                pen.setCapStyle(Qt.RoundCap if width > 2 else Qt.FlatCap)
                item.setPen(pen)
        self._aggregated = bool(px_per_unit < LOD_TILE_PX)
        self._tiles.setVisible(bool(px_per_unit >= 6.0))
        # hubs, NICs and switches never grow past their chips: a zoomed-out pod of 4,096 hubs
        # at full size is a white sheet over the links
        for i, (item, full, shown) in enumerate(self._node_items):
            want = int(max(2, min(full, round(NODE_SPAN_UNITS * px_per_unit))))
            if want != shown:
                item.setSize(want)
                self._node_items[i] = (item, full, want)
        g = self.geom
        if self._aggregated:
            vis = g.offchip.copy()
        else:
            inside = ((np.maximum(g.x0, g.x1) >= x0) & (np.minimum(g.x0, g.x1) <= x1)
                      & (np.maximum(g.y0, g.y1) >= y0) & (np.minimum(g.y0, g.y1) <= y1))
            vis = g.offchip | inside
        self._visible = vis
        self._vis_key = (self._aggregated, round(x0, 1), round(x1, 1), round(y0, 1), round(y1, 1))
        self._bucket_key = None

    @property
    def aggregated(self) -> bool:
        return self._aggregated

    def drawn_link_kinds(self) -> set[str]:
        """Link kinds with at least one segment drawn right now."""
        from sim_core import LINK_KINDS
        return {LINK_KINDS[k] for (k, _), c in self._curves.items() if c.getData()[0] is not None
                and len(c.getData()[0])}

    # ------------------------------------------------------------------ picking
    def target_at(self, x: float, y: float):
        """What is under the view point (x, y): a node, a link, a chip, or None."""
        f = self.fabric
        if f is None:
            return None
        vb = self.getViewBox()
        unit = (vb.viewRange()[0][1] - vb.viewRange()[0][0]) / max(vb.width(), 1)  # view units per pixel
        tol = PICK_PX * unit
        nodes = self._pick_nodes
        if nodes.size:
            d = np.hypot(f.node_x[nodes] - x, f.node_y[nodes] - y)
            i = int(np.argmin(d))
            if d[i] <= tol:
                return ("node", int(nodes[i]))
        cand = np.flatnonzero(self._visible) if self._visible is not None else np.arange(f.n_links)
        link, dist = rm.nearest_segment(self.geom, x, y, cand)
        if link >= 0 and dist <= max(tol * 0.7, 0.12 if not self._aggregated else 0):
            return ("link", link)
        b = self.boxes
        inside = np.flatnonzero((b[:, 0] <= x) & (x <= b[:, 2]) & (b[:, 1] <= y) & (y <= b[:, 3]))
        if inside.size:
            return ("chip", int(inside[0]))
        return None

    def particle_at(self, x: float, y: float) -> int:
        """Message id of the particle nearest (x, y) within the pick radius, or -1."""
        p = self.last_particles
        if p is None or p.x.size == 0:
            return -1
        vb = self.getViewBox()
        unit = (vb.viewRange()[0][1] - vb.viewRange()[0][0]) / max(vb.width(), 1)
        d = np.hypot(p.x - x, p.y - y)
        i = int(np.argmin(d))
        return int(p.msg[i]) if d[i] <= PICK_PX * unit else -1

    def highlight(self, links) -> None:
        """Draw the given links (a tensor's path) in bright yellow; [] clears."""
        self.highlighted = [int(v) for v in links]
        g = self.geom
        sel = np.asarray(self.highlighted, dtype=np.int64)
        x = np.empty(2 * sel.size)
        y = np.empty(2 * sel.size)
        x[0::2], x[1::2] = g.x0[sel], g.x1[sel]
        y[0::2], y[1::2] = g.y0[sel], g.y1[sel]
        self._path_curve.setData(x, y)

    def mark_nodes(self, nodes) -> None:
        """Ring the given nodes (cores, chips); [] clears."""
        self.marked = [int(v) for v in nodes]
        sel = np.asarray(self.marked, dtype=np.int64)
        self._marks.setData(self.fabric.node_x[sel], self.fabric.node_y[sel])
        self._marks.setVisible(bool(self.marked))

    def _on_mouse_moved(self, scene_pos) -> None:
        if self.fabric is None:
            return
        pt = self.getViewBox().mapSceneToView(scene_pos)
        target = self.target_at(pt.x(), pt.y())
        self.hover_target = target
        self.hover_text = self.describe(target) if (self.describe and target) else ""
        self.hovered.emit(target)
        if self.hover_text:
            QToolTip.showText(self.mapToGlobal(self.mapFromScene(scene_pos)), self.hover_text, self)
        else:
            QToolTip.hideText()

    def _on_mouse_clicked(self, ev) -> None:
        if self.fabric is None or ev.button() != Qt.LeftButton:
            return
        pt = self.getViewBox().mapSceneToView(ev.scenePos())
        self.pick(pt.x(), pt.y())

    def pick(self, x: float, y: float, engine=None):
        """Pin what is at (x, y); highlight the path of the tensor under the cursor."""
        target = self.target_at(x, y)
        msg = self.particle_at(x, y)
        path = []
        eng = engine or getattr(self, "engine", None)
        if msg >= 0 and eng is not None:
            path = eng.message_path(msg)
            target = target or ("message", msg)
        elif target and target[0] == "link":
            path = [target[1]]
        self.highlight(path)
        self.picked.emit(target, path)
        return target, path

    def view_to_widget(self, x: float, y: float):
        """Widget pixel position of the view point (x, y) (for tests and tours)."""
        scene = self.getViewBox().mapViewToScene(QPointF(x, y))
        return self.mapFromScene(scene)

