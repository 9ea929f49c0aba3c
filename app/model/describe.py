"""What the inspector and the hover tooltip say about one link, node, chip or message.

``describe_target(sim, target)`` asks the engine's read-only view API and returns
(title, rows of (label, text, raw value)); the tooltip and the inspector panel show the
same rows, and tests compare the raw values with what the engine answers. A target that
does not exist in ``sim`` (a link pinned on the previous architecture, a forgotten
message) describes as nothing, never as an error. Qt-free.
"""
from __future__ import annotations

import numpy as np

from sim_core import LINK_KIND_NAMES, LINK_KINDS, NODE_KINDS
from sim_core.engine.view import link_average_utilization

from app.model.render_model import format_bytes, format_rate, format_time

Rows = list[tuple[str, str, float]]

WHY_LINK = ("Utilization is the share of time the link spent sending bytes; a link near 100% with a "
            "queue behind it is the bottleneck.")


def kind_name(kind: int) -> str:
    """Display name of link kind ``kind`` ('on-chip mesh', 'NVLink', ...)."""
    k = LINK_KINDS[int(kind)]
    return LINK_KIND_NAMES.get(k, k)


def target_exists(sim, target) -> bool:
    """Whether ``target`` names something of ``sim``'s fabric (or a retained message)."""
    if not target:
        return False
    kind, i = target
    f = sim.fabric
    limit = {"link": f.n_links, "node": f.n_nodes, "chip": f.n_chips}.get(kind)
    if limit is not None:
        return 0 <= int(i) < limit
    if kind == "message":
        try:
            sim.engine.message_info([int(i)])
        except (IndexError, ValueError):
            return False
        return True
    return False


def describe_target(sim, target) -> tuple[str, Rows]:
    """(title, rows) for ``target`` = ("link", id) / ("node", id) / ("chip", id) / ("message", id)."""
    if not target_exists(sim, target):
        return "", []
    kind, i = target[0], int(target[1])
    return {"link": _link, "node": _node, "chip": _chip, "message": _message}[kind](sim, i)


def _link(sim, i: int) -> tuple[str, Rows]:
    eng, f = sim.engine, sim.fabric
    util = float(eng.link_utilization()[i])
    avg = float(link_average_utilization(eng)[i])
    queue = int(eng.link_queue()[i])
    bw, lat = float(f.link_bandwidth_Bps[i]), float(f.link_latency_s[i])
    rows = [
        ("kind", kind_name(f.link_kind[i]), float(f.link_kind[i])),
        ("bandwidth", format_rate(bw), bw),
        ("latency", format_time(lat), lat),
        ("utilization now", f"{util:.0%}", util),
        ("utilization avg", f"{avg:.0%}", avg),
        ("queue", f"{queue} chunks", float(queue)),
    ]
    moved = getattr(eng, "link_bytes_total", None)
    if moved is not None:
        rows.append(("bytes moved", format_bytes(float(moved[i])), float(moved[i])))
    return f.link_label(i), rows


def _node(sim, i: int) -> tuple[str, Rows]:
    eng, f = sim.engine, sim.fabric
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


def _chip(sim, i: int) -> tuple[str, Rows]:
    eng, f = sim.engine, sim.fabric
    per = f.tile_rows * f.tile_cols
    tiles = np.arange(i * per, (i + 1) * per)
    mesh = np.flatnonzero((f.link_kind == 0) & np.isin(f.link_src, tiles))
    util = eng.link_utilization()[mesh]
    now = float(util.mean()) if util.size else 0.0
    peak = float(util.max()) if util.size else 0.0
    chip = sim.spec.chip
    hub = int(f.chip_hub[i])
    return f.node_labels.get(hub, f"chip {i}"), [
        ("chip", chip.name, float(i)),
        ("cores (drawn as)", f"{chip.cores:,} ({f.tile_rows}x{f.tile_cols} tiles)", float(chip.cores)),
        ("peak", f"{chip.peak_flops / 1e12:.0f} TFLOP/s", chip.peak_flops),
        ("memory", f"{format_bytes(chip.memory_bytes)} at {format_rate(chip.memory_bandwidth_Bps)}",
         chip.memory_bytes),
        ("mesh utilization now", f"{now:.0%}", now),
        ("busiest mesh link", f"{peak:.0%}", peak),
    ]


def _message(sim, i: int) -> tuple[str, Rows]:
    eng, f = sim.engine, sim.fabric
    info = eng.message_info([i])
    src, dst, size, tag = int(info.src[0]), int(info.dst[0]), int(info.size_bytes[0]), int(info.tag[0])
    if bool(info.is_compute[0]):
        return f"compute task on {f.node_label(src)}", [("node", f.node_label(src), float(src))]
    hops = len(eng.message_path(i))
    return "tensor chunk's message", [
        ("from", f.node_label(src), float(src)),
        ("to", f.node_label(dst), float(dst)),
        ("size", format_bytes(size), float(size)),
        ("hops", str(hops), float(hops)),
        ("colour class", str(tag), float(tag)),
    ]


def tooltip_html(sim, target) -> str:
    """Rich text of ``describe_target`` for a hover tooltip ('' when there is nothing there)."""
    title, rows = describe_target(sim, target)
    if not rows:
        return ""
    body = "".join(f"<tr><td>{k}</td><td><b>{v}</b></td></tr>" for k, v, _ in rows)
    return f"<b>{title}</b><table>{body}</table>"
