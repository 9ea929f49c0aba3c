"""What the main window shows, as data: the texts on screen and the numbers behind the chart.

``window_state(win)`` is what ``python -m app --frames N --dump-state FILE`` writes:
``visible_text`` (every text a user can read right now: titles, legend, clock, badges,
plot titles and axis labels, the comparison's bar labels and values, panel labels),
``chart`` (title, labels, values in seconds), ``animated_round_s`` (the last round the
window animated and completed) and ``chart_round_s`` (the chart's row for the machine on
screen), plus the clock and the live plots' latest values.
"""
from __future__ import annotations

import html
import json
import re

import pyqtgraph as pg
from PySide6.QtWidgets import QAbstractButton, QComboBox, QDockWidget, QGroupBox, QLabel, QTabBar, QWidget

_TAG = re.compile(r"<[^>]+>")


def plain(text: str) -> str:
    """Rich text as the user reads it: tags dropped, entities decoded, spaces collapsed."""
    t = _TAG.sub(" ", (text or "").replace("<br>", "\n"))
    return " ".join(html.unescape(t).replace("\xa0", " ").split())


def _shown(w: QWidget) -> bool:
    return w.isVisible() and w.width() > 0 and w.height() > 0


def widget_texts(root: QWidget) -> list[str]:
    """Texts of the visible labels, buttons, combo boxes, group boxes, tabs and dock titles under ``root``."""
    out = []
    for w in root.findChildren(QWidget):
        if not _shown(w):
            continue
        if isinstance(w, QLabel):
            out.append(plain(w.text()))
        elif isinstance(w, QAbstractButton):
            out.append(w.text())
        elif isinstance(w, QComboBox):
            out.append(w.currentText())
        elif isinstance(w, QGroupBox):
            out.append(w.title())
        elif isinstance(w, QDockWidget):
            out.append(w.windowTitle())
        elif isinstance(w, QTabBar):
            out.extend(w.tabText(i) for i in range(w.count()))
    return out


def plot_texts(plot: pg.PlotWidget) -> list[str]:
    """Title, axis labels, tick labels of a labelled category axis, and text items of a pyqtgraph plot."""
    item = plot.getPlotItem()
    out = [plain(item.titleLabel.text)]
    for side in ("left", "bottom"):
        axis = item.getAxis(side)
        if axis.isVisible() and axis.labelText:
            out.append(plain(axis.labelText))
        ticks = getattr(axis, "_tickLevels", None)
        if ticks:
            out.extend(str(label) for level in ticks for _, label in level)
    for child in item.items:
        if isinstance(child, pg.TextItem):
            out.append(plain(child.textItem.toPlainText()))
    legend = item.legend
    if legend is not None:
        out.extend(plain(label.text) for _, label in legend.items)
    return out


def visible_text(win) -> list[str]:
    texts = widget_texts(win)
    for plot in win.findChildren(pg.PlotWidget):
        if _shown(plot) and plot is not win.view:
            texts.extend(plot_texts(plot))
    return [t for t in dict.fromkeys(t.strip() for t in texts) if t]


def window_state(win) -> dict:
    wl = win.sim.workload
    c = win.controller
    return {
        "window": "main",
        "scenario": win.sim.scenario.name,
        "architecture": win.sim.spec.name,
        "algorithm": str(getattr(wl, "algo_used", "") or ""),
        "visible_text": visible_text(win),
        "chart": win.comparison.state(),
        "animated_round_s": wl.last_round_s() if hasattr(wl, "last_round_s") else None,
        "chart_round_s": win.comparison.chart_round_s,
        "clock": {"simulated_s": c.display_t, "requested_speed": c.speed, "achieved_speed": c.achieved_speed,
                  "skipped_s": c.skipped_s, "text": win.clock.plain_text()},
        "utilization_pct": win.util_plot.values(),
    }


def dump_state(win, path: str) -> None:
    """Write ``window_state(win)`` as JSON, atomically."""
    from sim_core.atomic_io import write_atomic
    write_atomic(path, json.dumps(window_state(win), indent=2) + "\n")
