"""The numbers of one link, node, chip or message, and the panel that pins them.

``describe_target`` reads the engine and returns rows of (label, text, raw value); the
hover tooltip and the ``Inspector`` panel show the same rows, and tests compare the raw
values with the engine's arrays.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QLabel, QVBoxLayout, QWidget

from sim_core import LINK_KINDS, NODE_KINDS

from app.model.render_model import format_bytes, format_rate, format_time

WHY_LINK = ("Utilization is the share of time the link spent sending bytes; a link near 100% with a "
            "queue behind it is the bottleneck.")


def describe_target(sim, target) -> tuple[str, list[tuple[str, str, float]]]:
    """(title, rows) for ``target`` = ("link", id) / ("node", id) / ("chip", id) / ("message", id)."""
    if not target:
        return "", []
    kind, i = target
    eng, f = sim.engine, sim.fabric
    now = max(eng.now_s, 1e-300)
    if kind == "link":
        util = float(eng.link_utilization()[i])
        avg = float(eng.link_busy_total_s[i] / now) if eng.now_s > 0 else 0.0
        queue = int(eng.link_queue()[i])
        moved = int(eng.link_bytes_total[i])
        bw, lat = float(f.link_bandwidth_Bps[i]), float(f.link_latency_s[i])
        return f.link_label(i), [
            ("kind", LINK_KINDS[f.link_kind[i]], float(f.link_kind[i])),
            ("bandwidth", format_rate(bw), bw),
            ("latency", format_time(lat), lat),
            ("utilization now", f"{util:.0%}", util),
            ("utilization avg", f"{avg:.0%}", avg),
            ("queue", f"{queue} chunks", float(queue)),
            ("bytes moved", format_bytes(moved), float(moved)),
        ]
    if kind == "node":
        busy = float(eng.node_busy_fraction()[i])
        out = np.flatnonzero(f.link_src == i)
        cap = float(f.link_bandwidth_Bps[out].sum())
        queue = int(eng.link_queue()[out].sum())
        return f.node_label(i), [
            ("kind", NODE_KINDS[f.node_kind[i]], float(f.node_kind[i])),
            ("links out", str(out.size), float(out.size)),
            ("bandwidth out", format_rate(cap), cap),
            ("queued here", f"{queue} chunks", float(queue)),
            ("compute busy", f"{busy:.0%}", busy),
        ]
    if kind == "chip":
        per = f.tile_rows * f.tile_cols
        tiles = np.arange(i * per, (i + 1) * per)
        mesh = np.flatnonzero((f.link_kind == 0) & np.isin(f.link_src, tiles))
        util = eng.link_utilization()[mesh]
        chip = sim.spec.chip
        hub = int(f.chip_hub[i])
        return f.node_labels.get(hub, f"chip {i}"), [
            ("chip", chip.name, float(i)),
            ("cores (drawn as)", f"{chip.cores:,} ({f.tile_rows}x{f.tile_cols} tiles)", float(chip.cores)),
            ("peak", f"{chip.peak_flops / 1e12:.0f} TFLOP/s", chip.peak_flops),
            ("memory", f"{format_bytes(chip.memory_bytes)} at {format_rate(chip.memory_bandwidth_Bps)}",
             chip.memory_bytes),
            ("mesh utilization now", f"{util.mean() if util.size else 0:.0%}", float(util.mean()) if util.size else 0.0),
            ("busiest mesh link", f"{util.max() if util.size else 0:.0%}", float(util.max()) if util.size else 0.0),
        ]
    if kind == "message":
        size, src, dst = int(eng.m_size[i]), int(eng.m_src[i]), int(eng.m_dst[i])
        hops = len(eng.router.path(src, dst))
        return f"tensor (message {i})", [
            ("from", f.node_label(src), float(src)),
            ("to", f.node_label(dst), float(dst)),
            ("size", format_bytes(size), float(size)),
            ("hops", str(hops), float(hops)),
            ("colour tag", str(int(eng.m_tag[i])), float(eng.m_tag[i])),
        ]
    return "", []


def tooltip_text(sim, target) -> str:
    title, rows = describe_target(sim, target)
    if not rows:
        return ""
    body = "".join(f"<tr><td>{k}</td><td><b>{v}</b></td></tr>" for k, v, _ in rows)
    return f"<b>{title}</b><table>{body}</table>"


class Inspector(QWidget):
    """Pinned numbers of what was clicked, refreshed as the simulation runs."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.target = None
        self.values: dict[str, float] = {}
        self.texts: dict[str, str] = {}
        lay = QVBoxLayout(self)
        self.title = QLabel("Click a link, a chip or a particle to pin its numbers here.")
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextSelectableByMouse)
        lay.addWidget(self.title)
        self.form = QFormLayout()
        lay.addLayout(self.form)
        self.why = QLabel("")
        self.why.setWordWrap(True)
        self.why.setStyleSheet("color: gray;")
        lay.addWidget(self.why)
        lay.addStretch(1)
        self._labels: dict[str, QLabel] = {}

    def pin(self, sim, target) -> None:
        self.target = target
        self.refresh(sim)

    def refresh(self, sim) -> None:
        title, rows = describe_target(sim, self.target)
        if not rows:
            return
        self.title.setText(f"<b>{title}</b>")
        if [r[0] for r in rows] != list(self._labels):
            while self.form.rowCount():
                self.form.removeRow(0)
            self._labels = {}
            for key, _, _ in rows:
                lab = QLabel()
                lab.setTextInteractionFlags(Qt.TextSelectableByMouse)
                self.form.addRow(key, lab)
                self._labels[key] = lab
        for key, text, raw in rows:
            self._labels[key].setText(text)
        self.values = {k: raw for k, _, raw in rows}
        self.texts = {k: t for k, t, _ in rows}
        self.why.setText(WHY_LINK if self.target[0] == "link" else "")
