"""What a scene's chart shows, as plain data: bars, stacked bars, curves, a timeline.

``chart_spec(study, view, reveal)`` turns a study's rows into a ``ChartSpec``: values in
a display unit the app chose ("ms", "us", never a plotting library's SI multiplier), axis
labels with that unit, one labelled bar per row group and every text the chart will
draw. ``StudyChart`` draws a spec; ``--dump-state`` writes it; tests read it without Qt.
"""
from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field

from app.model.studies import StudyResult, fit_doubling

TIME_UNITS = (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9), ("ps", 1e-12))
UNIT_WORDS = {"flits/cycle": "whole-mesh throughput (flits per cycle)", "cycles": "mean latency (cycles)",
              "PF/s-days": "training compute (petaflop/s-days)"}
PART_ORDER = ("compute", "memory", "communication", "pipeline bubble")


def time_unit(max_s: float) -> tuple[str, float]:
    """The unit that shows ``max_s`` as a number from 1 to 1000: ('ms', 1e-3)."""
    for unit, scale in TIME_UNITS:
        if abs(max_s) >= scale:
            return unit, scale
    return TIME_UNITS[-1]


def format_number(v: float) -> str:
    """Three significant digits, thousands separated: '8,644', '367', '2.13', '0.0058'."""
    if v == 0 or not math.isfinite(v):
        return f"{v:g}"
    digits = max(0, 2 - int(math.floor(math.log10(abs(v)))))
    return f"{v:,.{digits}f}"


def format_quantity(v: float, unit: str) -> str:
    if unit == "s":
        u, scale = time_unit(v)
        return f"{format_number(v / scale)} {u}"
    return f"{format_number(v)} {unit}".strip()


def format_check_value(v: float, shown_as: str) -> str:
    return {"ratio": f"{format_number(v)}x", "share": f"{v:.0%}", "months": f"{v:.1f} months"}.get(
        shown_as, format_number(v))


_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_.\-]+)(?::([^{}]*))?\}")


def fill_text(text: str, values: dict[str, float] | None) -> str:
    """Beat text with ``{value_name}`` / ``{value_name:.1f}`` replaced by the study's numbers
    ('...' while they are being computed)."""
    def sub(m):
        if not values or m.group(1) not in values:
            return "..."
        v = values[m.group(1)]
        return format(v, m.group(2)) if m.group(2) else format_number(v)
    return _PLACEHOLDER.sub(sub, text)


def placeholders(text: str) -> list[str]:
    return [m.group(1) for m in _PLACEHOLDER.finditer(text)]


@dataclass
class ChartSpec:
    """Everything a scene chart draws. Bars: ``label`` (drawn above the bar), ``text`` (its
    number), ``segments`` [(part, value)] in display units, ``why``. Series: ``name``,
    ``x``, ``y`` lists. Ticks: (position, label) pairs where the app labels an axis itself."""

    kind: str  # "bars", "stacked", "curve", "timeline", "message"
    title: str
    x_label: str = ""
    y_label: str = ""
    unit: str = ""
    bars: list[dict] = field(default_factory=list)
    series: list[dict] = field(default_factory=list)
    legend: list[str] = field(default_factory=list)
    fit: dict | None = None
    side_title: str = ""
    side: list[str] = field(default_factory=list)
    message: str = ""
    log_y: bool = False
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)

    def visible_text(self) -> list[str]:
        out = [self.title, self.x_label, self.y_label, self.message, *self.legend, self.side_title, *self.side]
        for b in self.bars:
            out += [b["label"], b["text"]]
        for s in self.series:
            out += s.get("point_labels", [])
        if self.fit:
            out.append(self.fit["label"])
        out += [t for _, t in self.x_ticks + self.y_ticks]
        return [t for t in out if t]

    def values(self) -> list[dict]:
        """The chart's numbers with their labels and units (for --dump-state)."""
        rows = [{"label": b["label"], "value": b["value"], "unit": self.unit,
                 **({"segments": dict(b["segments"])} if b.get("segments") else {})} for b in self.bars]
        for s in self.series:
            rows += [{"label": f"{s['name']} at {x:g}", "x": x, "value": y, "unit": self.unit}
                     for x, y in zip(s["x"], s["y"])]
        return rows

    def to_json(self) -> dict:
        d = asdict(self)
        d["values"] = self.values()
        return d


def message_spec(text: str) -> ChartSpec:
    return ChartSpec("message", "", message=text)


def chart_spec(study: StudyResult, chart: str, reveal: int) -> ChartSpec:
    """The chart for ``study`` with ``reveal`` rows shown (-1: all)."""
    rows = study.rows if reveal < 0 else study.rows[:reveal]
    if chart == "none":
        return message_spec("")
    if not rows:
        return ChartSpec("message", study.title, message="more numbers on the next beats")
    if chart == "stacked":
        return _stacked(study, rows)
    if chart == "curve":
        return _curve(study, rows)
    if chart == "timeline":
        return _timeline(study, rows, show_side=reveal < 0)
    return _bars(study, rows, ratio=chart == "ratio-bars", log=chart == "log-bars")


def _scale(study: StudyResult, values: list[float]) -> tuple[str, float]:
    if study.unit == "s":
        return time_unit(max(values))
    return study.unit, 1.0


def _bars(study: StudyResult, rows: list[dict], ratio: bool, log: bool) -> ChartSpec:
    unit, scale = _scale(study, [r["value"] for r in rows])
    axis = f"time ({unit})" if study.unit == "s" else UNIT_WORDS.get(unit, unit)
    spec = ChartSpec("bars", study.title, x_label=axis, unit=unit)
    for r in rows:
        text = format_quantity(r["value"], study.unit)
        if ratio and "ratio" in r:
            text += " (the unit)" if r is rows[0] and abs(r["ratio"] - 1) < 1e-9 else f" = {format_number(r['ratio'])}x"
        if "busbw_GBps" in r:
            text += f", bus bandwidth {format_number(r['busbw_GBps'])} GB/s"
        spec.bars.append(dict(label=r["label"], value=r["value"] / scale, text=text, why=r["why"],
                              group=r.get("group", "")))
    spec.legend = _groups(rows) if len(_groups(rows)) > 1 else []
    if log:
        spec.x_label = axis + ", log scale"
    return spec


def _groups(rows) -> list[str]:
    return list(dict.fromkeys(r.get("group", "") for r in rows))


def _stacked(study: StudyResult, rows: list[dict]) -> ChartSpec:
    """One bar per ``bar`` (an architecture, a GPU count), its parts stacked: the bar is their sum."""
    bars: dict[str, list[dict]] = {}
    for r in rows:
        bars.setdefault(r.get("bar", r["label"]), []).append(r)
    totals = [sum(p["value"] for p in parts) for parts in bars.values()]
    unit, scale = time_unit(max(totals))
    spec = ChartSpec("stacked", study.title, x_label=f"time per iteration ({unit})", unit=unit)
    parts_seen = []
    budget = ""
    for (name, parts), total in zip(bars.items(), totals):
        segs = [(p["group"], p["value"] / scale) for p in parts]
        parts_seen += [g for g, _ in segs]
        text = f"{format_number(total / scale)} {unit}"
        days = parts[0].get("days_to_train")
        if days is not None and not parts[0].get("gap"):
            text += f", {format_number(days)} days to train"
            budget = _budget_text(parts[0].get("budget"))
        why = "\n".join(f"{p['group']}: {format_quantity(p['value'], 's')} ({p['why']})" for p in parts)
        less = {k: v for k, v in (parts[0].get("less") or {}).items() if v > 1e-3 * total}
        if parts[0].get("gap") and less:  # the segments add up to more than the gap: the fastest spends longer on
            text = f"{format_number(parts[0]['bar_total_s'] / scale)} {unit}"  # what it says: slowest - fastest
            why += (f"\nThe parts add up to {format_quantity(total, 's')}: the fastest spends longer on "
                    + " and ".join(f"{k} ({format_quantity(v, 's')})" for k, v in less.items()))
        spec.bars.append(dict(label=name, value=total / scale, text=text, segments=segs, why=why,
                              group="", total_s=total, bar_total_s=parts[0].get("bar_total_s")))
    spec.legend = [p for p in PART_ORDER if p in parts_seen] + [p for p in dict.fromkeys(parts_seen)
                                                                 if p not in PART_ORDER]
    if budget:
        spec.title += f"; days to train for {budget.strip(' ()')}"
    return spec


def _budget_text(budget) -> str:
    if not budget:
        return ""
    if "tokens" in budget:
        return f" ({format_number(budget['tokens'] / 1e9)} B tokens)"
    if "epochs" in budget:
        return f" ({budget['epochs']:g} epochs)"
    return ""


def _curve(study: StudyResult, rows: list[dict]) -> ChartSpec:
    spec = ChartSpec("curve", study.title, x_label="offered load (flits/core/cycle)",
                     y_label=UNIT_WORDS.get(study.unit, study.unit), unit=study.unit)
    for g in _groups(rows):
        pts = [r for r in rows if r.get("group", "") == g]
        spec.series.append(dict(name=g, x=[r["x"] for r in pts], y=[r["value"] for r in pts],
                                why=[r["why"] for r in pts]))
    spec.legend = [s["name"] for s in spec.series]
    return spec


def _timeline(study: StudyResult, rows: list[dict], show_side: bool) -> ChartSpec:
    """Points (year, value) on a log axis; the least-squares line through the points shown."""
    spec = ChartSpec("timeline", study.title, x_label="year",
                     y_label=UNIT_WORDS.get(study.unit, study.unit) + ", log scale", unit=study.unit, log_y=True)
    xs, ys = [r["x"] for r in rows], [r["value"] for r in rows]
    spec.series.append(dict(name="landmark runs", x=xs, y=ys, why=[r["why"] for r in rows],
                            point_labels=[r["label"] for r in rows]))
    lo, hi = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))
    spec.y_ticks = [(float(e), f"{10.0 ** e:,.{max(0, -e)}f}") for e in range(lo, hi + 1)]
    first, last = math.floor(min(xs)), math.ceil(max(xs))
    step = 1 if last - first <= 6 else 2
    spec.x_ticks = [(float(y), str(y)) for y in range(first, last + 1, step)]  # whole years, never "2012.5"
    if len(rows) >= 3:
        slope, icpt = fit_doubling(xs, ys)
        x0, x1 = min(xs), max(xs)
        spec.fit = dict(x=[x0, x1], y=[2 ** (icpt + slope * x0), 2 ** (icpt + slope * x1)],
                        doubling_months=12.0 / slope,
                        label=f"fit: doubling every {12.0 / slope:.1f} months")
    if show_side and study.side:
        spec.side_title = study.side_title
        spec.side = [f"{s['label']}: {format_number(s['value'])} {s['unit']}" for s in study.side]
    return spec
