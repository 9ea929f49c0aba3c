"""The comparison panel: the workload on screen against every architecture, computed off the GUI thread.

A collective: the row of the machine on screen is the animated round itself
(``comparison.animated_round``), the other presets run the same collective over as many
ranks. Training: ``comparison.training_comparison`` (this machine's iteration and every
preset at equal chip power). The colour key sits in a wrapping label under the chart.
"""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from sim_core import preset_ids

from app.model import render_model as rm
from app.model.comparison import animated_round, compare, ranks_of, training_comparison
from app.ui.plots import ComparisonPlot

TITLE = "One round of this workload on every architecture"
COMPARE_MAX_CHIPS = 256  # past this, re-running the animated round and every preset takes minutes


class ComparisonPanel(QWidget):
    """Chart plus colour key; ``request(sim)`` recomputes it for the simulation on screen."""

    failed = Signal(str)

    def __init__(self, jobs, parent=None):
        super().__init__(parent)
        self.jobs = jobs
        self.plot = ComparisonPlot()
        self.heading = QLabel(TITLE)
        self.heading.setObjectName("chartTitle")
        self.heading.setWordWrap(True)
        self.key = QLabel()
        self.key.setObjectName("chartKey")
        self.key.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(self.heading)
        lay.addWidget(self.plot, 1)
        lay.addWidget(self.key)
        self.training_result: dict | None = None
        self.current_row: dict | None = None
        self.pending = False

    # ------------------------------------------------------------------ requests
    def request(self, sim) -> None:
        """Recompute for ``sim`` in the background (a newer request supersedes an older one)."""
        self.current_row, self.training_result = None, None
        sc = sim.scenario
        if sc.workload == "training":
            self._set_title("Training: estimating this machine and every architecture (computing...)")
            self.pending = True
            self.jobs.submit("compare", lambda progress: training_comparison(sim, progress), self._on_training,
                             lambda msg, details: self._on_failed(msg))
            return
        if sc.workload != "collective":
            self.pending = False
            self.plot.set_rows([])
            self._set_title("Architecture comparison: pick a collective or training workload")
            self.key.setText("")
            return
        if sim.fabric.n_chips > COMPARE_MAX_CHIPS:
            self.pending = False
            self.plot.set_rows([])
            self.key.setText("")
            self._set_title(f"{TITLE}: shown for up to {COMPARE_MAX_CHIPS:,} chips (re-running every preset at "
                            f"{sim.fabric.n_chips:,} takes minutes); `python -m sim_core collective` runs it")
            return
        self.pending = True
        self._set_title(f"{TITLE} (computing...)")
        params, devices = dict(sc.params), ranks_of(sim.workload, sim.fabric)
        skip = (sc.architecture,) if sc.architecture in preset_ids() else ()

        def work(progress):
            here = animated_round(sc)
            here["label"] = f"{here['label']} (on screen)"
            return [here] + compare(sc.workload, params, devices, progress, skip=skip)

        self.jobs.submit("compare", work, self._on_compared, lambda msg, details: self._on_failed(msg))

    def _on_failed(self, msg: str) -> None:
        self.pending = False
        self._set_title(f"{TITLE}: not computed")
        self.failed.emit(f"comparison failed: {msg}")

    def _on_compared(self, rows: list[dict]) -> None:
        self.pending = False
        self.current_row = rows[0]
        self.plot.set_rows(rows, rows[0]["label"])
        algo = rows[0].get("algo") or "the animated algorithm"
        self._set_title(f"{TITLE} ({rm.format_time(self.chart_round_s)} on screen: the round animated, {algo}; "
                        f"others: the algorithm NCCL would pick for {rm.plural(rows[0]['devices'], 'rank')})")
        self.key.setText(self.plot.legend_html)

    def _on_training(self, result: dict) -> None:
        self.pending = False
        self.training_result = result
        cur = result["current"]
        self.current_row = cur
        rows = [cur] + [r for r in result["rows"] if "error" not in r]
        notes = [f", {r['days']:,.1f} days" if r.get("days") is not None else "" for r in rows]
        self.plot.set_rows(rows, cur["label"], notes)
        self._set_title(training_title(result))
        self.key.setText(self.plot.legend_html)

    def _set_title(self, text: str) -> None:
        self.heading.setText(text)
        self.title_text = text

    # ------------------------------------------------------------------ what it shows
    @property
    def chart_round_s(self) -> float | None:
        """The chart's row for the machine on screen (s): a collective round, or a training iteration."""
        r = self.current_row
        if r is None:
            return None
        return float(r["iteration_s"]) if "iteration_s" in r else float(r["comm_s"] + r.get("compute_s", 0.0))

    def state(self) -> dict:
        """Title, bar labels and bar totals (s), as ``--dump-state`` writes them."""
        return {"title": getattr(self, "title_text", TITLE), "labels": list(self.plot.labels),
                "values": self.plot.totals_s(), "unit": "s", "key": list(self.plot.parts)}


def training_title(result: dict) -> str:
    """One line: the model, this machine's iteration time and days to train, the comparison basis."""
    cur = result["current"]
    b = result["budget"]
    what = f"{b['tokens'] / 1e9:g} B tokens" if "tokens" in b else f"{b.get('epochs', 0):g} epochs"
    days = f", {cur['days']:,.1f} days to train ({what})" if cur.get("days") is not None else ""
    return (f"{result['model']}: {rm.format_time(cur['iteration_s'])} per iteration here{days}; "
            f"others at equal chip power ({result['power_W'] / 1e3:,.1f} kW)")


__all__ = ["ComparisonPanel", "training_title"]
