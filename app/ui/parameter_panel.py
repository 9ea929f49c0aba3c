"""The knobs that matter to intuition, applied live (debounced) as a new ``Scenario``.

The panel never builds anything itself: it emits ``scenario_edited`` 350 ms after the
last change; the window rebuilds the simulation off the GUI thread.
"""
from __future__ import annotations

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox, QLabel, QVBoxLayout, QWidget

from sim_core import SpecError, load_architecture, preset_ids
from sim_core.workloads import collectives
from sim_core.workloads.traffic import PATTERNS

from app.model.scenario import Scenario, check_params, live_limit_message
from app.model.workloads import WORKLOAD_KINDS

DEBOUNCE_MS = 350
CHUNK_SIZES = [64, 256, 1024, 4096, 8192, 16384, 32768, 65536, 262144, 1 << 20]



class CheckedSpinBox(QDoubleSpinBox):
    """A number field that keeps what the user typed, in range or not.

    Qt's spin boxes clamp silently (-5 becomes 5, 0 becomes 1). This one accepts any
    number as typed, and ``refusal()`` names the field and its allowed range when the
    value is outside it; the panel shows that and applies nothing until it is corrected.
    The arrow buttons step within the allowed range. Shows 1, 0.25 or 1e-12 rather than
    1.000000000000 (wide ranges need many decimals).
    """

    def __init__(self, field: str, lo: float, hi: float, *, integer: bool = False, decimals: int = 0,
                 tip: str = "", parent=None):
        super().__init__(parent)
        self.field, self.allowed, self.integer = field, (lo, hi), integer
        self.setRange(-1e300, 1e300)
        self.setDecimals(0 if integer else decimals)
        self.setToolTip(f"{tip} (allowed {_num(lo)} to {_num(hi)})" if tip else "")
        self.setKeyboardTracking(True)

    def sizeHint(self):
        hint = super().sizeHint()
        hint.setWidth(max(90, self.fontMetrics().horizontalAdvance(_num(self.allowed[1])) + 40))
        return hint

    def minimumSizeHint(self):
        return self.sizeHint()

    def textFromValue(self, value: float) -> str:
        return f"{int(round(value))}" if self.integer else f"{value:.6g}"

    def valueFromText(self, text: str) -> float:
        try:
            return float(text.replace(",", ""))
        except ValueError:
            return self.value()

    def validate(self, text, pos):
        try:
            float(text.replace(",", ""))
        except ValueError:
            return QValidator.Intermediate, text, pos
        return QValidator.Acceptable, text, pos

    def fixup(self, text):
        return text  # never rewrite what was typed

    def stepBy(self, steps: int) -> None:
        lo, hi = self.allowed
        self.setValue(min(max(self.value() + steps * self.singleStep(), lo), hi))

    def number(self):
        """The value as the scenario takes it (an int for integer fields)."""
        v = self.value()
        return int(round(v)) if self.integer else float(v)

    def refusal(self) -> str | None:
        """'size: -5 is outside the allowed range 1 to 10,000', or None when the value is allowed."""
        lo, hi = self.allowed
        v = self.value()
        if self.integer and v != round(v):
            return f"{self.field}: {v:g} is not a whole number (allowed {_num(lo)} to {_num(hi)})"
        if not (lo <= v <= hi):
            return f"{self.field}: {_num(v)} is outside the allowed range {_num(lo)} to {_num(hi)}"
        return None


def _num(v: float) -> str:
    """1, 10,000, 0.25, 1e-12: plain numbers for messages and tooltips."""
    if v == int(v) and abs(v) < 1e9:
        return f"{int(v):,}"
    return f"{v:.6g}"


class ParameterPanel(QWidget):
    """Edits a ``Scenario``; ``scenario_edited(Scenario)`` fires once the user pauses."""

    scenario_edited = Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.scenario: Scenario | None = None
        self._loading = False
        self.debounce = QTimer(self)
        self.debounce.setSingleShot(True)
        self.debounce.setInterval(DEBOUNCE_MS)
        self.debounce.timeout.connect(self._emit)
        lay = QVBoxLayout(self)
        hw = QGroupBox("Hardware")
        f = QFormLayout(hw)
        self.arch = QComboBox()
        for pid in preset_ids():
            self.arch.addItem(load_architecture(pid).name, pid)  # shown: the name; kept: the id
        self.arch.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.arch.setMinimumContentsLength(16)  # long names elide in the closed box, the list shows them whole
        self.arch.view().setMinimumWidth(self.arch.view().sizeHintForColumn(0) + 24)
        self.arch.setToolTip("Which machine. Switching keeps the workload and restarts the simulation.")
        # Ranges reach the extremes a class asks about; combinations past what the view can show
        # are refused with a message (live_limit_message) instead of being clamped silently.
        self.size = self._spin("size", 1, 10_000, "servers (cluster), wafers, or chips per torus side")
        self.rows = self._spin("core rows", 1, 1024, "rows of cores drawn per chip (the mesh resolution)")
        self.cols = self._spin("core columns", 1, 1024, "columns of cores drawn per chip")
        self.bw = self._dspin("off-chip bandwidth x", 1e-12, 1e4, 12, "multiplies every off-chip link's bandwidth "
                              "(1e-12: ~1 B/s links; 10,000x: beyond 10 TB/s)")
        self.lat = self._dspin("off-chip latency x", 1e-4, 1e7, 4, "multiplies every off-chip link's latency "
                               "(1e-4: ~1 ns hops; 1e7: seconds)")
        self.chunk = QComboBox()
        self.chunk.addItems([_bytes_label(c) for c in CHUNK_SIZES])
        self.chunk.setToolTip("Tensors travel cut into chunks of this size (one particle each).")
        self.buffer = self._spin("buffer depth", 1, 64, "receive-buffer depth of every link, in chunks (backpressure)")
        for label, w in (("architecture", self.arch), ("size", self.size), ("core rows", self.rows),
                         ("core columns", self.cols), ("off-chip bandwidth x", self.bw),
                         ("off-chip latency x", self.lat), ("chunk size", self.chunk), ("buffer depth", self.buffer)):
            f.addRow(label, w)
        lay.addWidget(hw)
        wl = QGroupBox("Workload")
        g = QFormLayout(wl)
        self.kind = QComboBox()
        self.kind.addItems(list(WORKLOAD_KINDS))
        self.kind.setToolTip("\n".join(f"{k}: {v}" for k, v in WORKLOAD_KINDS.items()))
        self.op = QComboBox()
        self.op.addItems(["allreduce", "reduce-scatter", "allgather", "broadcast", "alltoall"])
        self.algo = QComboBox()
        self.algo.addItems(["auto"] + list(collectives.ALGORITHMS))
        self.algo.setToolTip("\n".join(f"{k}: {v}" for k, v in collectives.ALGORITHMS.items()))
        self.nbytes = self._dspin("tensor (MB)", 1e-6, 1e5, 6, "tensor size in MB (1 MB = 1e6 bytes; 1e-6 = 1 byte)")
        self.pattern = QComboBox()
        self.pattern.addItems(list(PATTERNS))
        self.rate = self._dspin("NoC rate", 0.0, 1.0, 4, "flits per core per cycle injected by every core")
        self.params = self._dspin("model (M params)", 1.0, 1e6, 0, "model size in millions of parameters")
        self.tokens = self._spin("tokens / device", 1, 1 << 20, "tokens each device processes per iteration")
        for label, w in (("kind", self.kind), ("operation", self.op), ("algorithm", self.algo),
                         ("tensor (MB)", self.nbytes), ("NoC pattern", self.pattern), ("NoC rate", self.rate),
                         ("model (M params)", self.params), ("tokens / device", self.tokens)):
            g.addRow(label, w)
        lay.addWidget(wl)
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        self.notice.setObjectName("notice")
        self.notice.hide()
        lay.addWidget(self.notice)
        lay.addStretch(1)
        for w in (self.arch, self.chunk, self.kind, self.op, self.algo, self.pattern):
            w.currentIndexChanged.connect(self._on_value_changed)
        for w in (self.size, self.rows, self.cols, self.bw, self.lat, self.buffer, self.nbytes, self.rate,
                  self.params, self.tokens):
            w.valueChanged.connect(self._on_value_changed)

    def _spin(self, field, lo, hi, tip) -> CheckedSpinBox:
        return CheckedSpinBox(field, lo, hi, integer=True, tip=tip)

    def _dspin(self, field, lo, hi, dec, tip) -> CheckedSpinBox:
        return CheckedSpinBox(field, lo, hi, decimals=dec, tip=tip)

    def fields(self) -> list[CheckedSpinBox]:
        return [self.size, self.rows, self.cols, self.bw, self.lat, self.buffer, self.nbytes, self.rate,
                self.params, self.tokens]

    def show_scenario(self, sc: Scenario, spec) -> None:
        """Show ``sc`` (built on ``spec``) without emitting anything."""
        self._loading = True
        self.scenario = sc
        if self.arch.findData(sc.architecture) < 0:
            self.arch.addItem(spec.name, sc.architecture)  # a user-loaded file: its name, its path kept
        self.arch.setCurrentIndex(self.arch.findData(sc.architecture))
        topo = spec.topology
        size = {"cluster": sc.size or getattr(topo, "nodes", 1), "wafer": sc.size or getattr(topo, "wafers", 1),
                "torus": (sc.dims or getattr(topo, "dims", [4]))[0]}[topo.kind]
        self.size.setValue(int(size))
        r, c = sc.tiles or spec.chip.default_tiles
        self.rows.setValue(r)
        self.cols.setValue(c)
        self.bw.setValue(sc.offchip_bandwidth_scale)
        self.lat.setValue(sc.offchip_latency_scale)
        self.chunk.setCurrentIndex(min(range(len(CHUNK_SIZES)), key=lambda i: abs(CHUNK_SIZES[i] - sc.chunk_bytes)))
        self.buffer.setValue(sc.buffer_chunks)
        self.kind.setCurrentText(sc.workload)
        p = sc.params
        self.op.setCurrentText(p.get("op", "allreduce"))
        self.algo.setCurrentText(p.get("algo", "auto"))
        self.nbytes.setValue(float(p.get("nbytes", 8e6)) / 1e6)
        self.pattern.setCurrentText(p.get("pattern", "uniform"))
        self.rate.setValue(float(p.get("rate", 0.01)))
        self.params.setValue(float(p.get("params", 125e6)) / 1e6)
        self.tokens.setValue(int(p.get("tokens_per_device", 2048)))
        self._topology_kind = topo.kind
        self._mark_refused([])
        self.notice.hide()
        self._update_enabled()
        self._loading = False

    def _update_enabled(self) -> None:
        k = self.kind.currentText()
        for w in (self.op, self.algo):
            w.setEnabled(k == "collective")
        self.nbytes.setEnabled(k in ("collective", "transfer"))
        self.pattern.setEnabled(k == "noc")
        self.rate.setEnabled(k == "noc")
        self.params.setEnabled(k == "training")
        self.tokens.setEnabled(k == "training")

    def _on_value_changed(self, *_):
        self._update_enabled()
        if not self._loading:
            self.debounce.start()

    def current(self) -> Scenario:
        """The scenario the widgets describe now."""
        sc = self.scenario
        arch = self.arch.currentData()
        same_arch = arch == sc.architecture
        params = dict(sc.params)
        params.update(op=self.op.currentText(), algo=self.algo.currentText(), nbytes=self.nbytes.number() * 1e6,
                      pattern=self.pattern.currentText(), rate=self.rate.number(), params=self.params.number() * 1e6,
                      tokens_per_device=self.tokens.number())
        size = self.size.number()
        topo = getattr(self, "_topology_kind", "cluster")
        return sc.replace(
            name=sc.name if sc.name.startswith("custom") else sc.name + "*",
            architecture=arch,
            size=size if (same_arch and topo != "torus") else None,
            dims=(size, size, size) if (same_arch and topo == "torus") else None,
            tiles=(self.rows.number(), self.cols.number()) if same_arch else None,
            offchip_bandwidth_scale=self.bw.number(), offchip_latency_scale=self.lat.number(),
            chunk_bytes=CHUNK_SIZES[self.chunk.currentIndex()], buffer_chunks=self.buffer.number(),
            workload=self.kind.currentText(), params=params, sim_rate_s=sc.sim_rate_s if same_arch else 0.0,
        )

    def _emit(self) -> None:
        bad = [w for w in self.fields() if w.isEnabled() and w.refusal()]
        self._mark_refused(bad)
        if bad:
            self.notice.setText("Not applied: " + "; ".join(w.refusal() for w in bad))
            self.notice.show()
            return
        sc = self.current()
        why = self.refusal(sc)
        self.notice.setText(f"Not applied: {why}" if why else "")
        self.notice.setVisible(bool(why))
        if not why:
            self.scenario_edited.emit(sc)

    def refusal(self, sc: Scenario) -> str | None:
        """Why ``sc`` is not built (limit and reason, one line), or None. Cheap: nothing is built."""
        try:
            check_params("parameters", sc.params)
            return live_limit_message(sc, load_architecture(sc.architecture))
        except SpecError as exc:
            return str(exc)

    def _mark_refused(self, bad) -> None:
        """Outline the refused fields (assets/meshscope.qss styles ``refused``)."""
        for w in self.fields():
            flag = w in bad
            if bool(w.property("refused")) != flag:
                w.setProperty("refused", flag)
                w.style().unpolish(w)
                w.style().polish(w)

    def shutdown(self) -> None:
        self.debounce.stop()


def _bytes_label(n: int) -> str:
    if n >= 1 << 20:
        return f"{n >> 20} MiB"
    if n >= 1024:
        return f"{n >> 10} KiB"
    return f"{n} B"
