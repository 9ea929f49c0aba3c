"""The knobs that matter to intuition, applied live (debounced) as a new ``Scenario``.

The panel never builds anything itself: it emits ``scenario_edited`` 350 ms after the
last change; the window rebuilds the simulation off the GUI thread.
"""
from __future__ import annotations

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox, QLabel, QSpinBox, QVBoxLayout,
                               QWidget)

from sim_core import SpecError, load_architecture, preset_ids
from sim_core.workloads import collectives
from sim_core.workloads.traffic import PATTERNS

from app.model.scenario import Scenario, check_params, live_limit_message
from app.model.workloads import WORKLOAD_KINDS

DEBOUNCE_MS = 350
CHUNK_SIZES = [64, 256, 1024, 4096, 8192, 16384, 32768, 65536, 262144, 1 << 20]



class CompactSpinBox(QDoubleSpinBox):
    """Shows 1, 0.25 or 1e-12 rather than 1.000000000000: wide ranges need many decimals."""

    def textFromValue(self, value: float) -> str:
        return f"{value:.6g}"

    def valueFromText(self, text: str) -> float:
        try:
            return float(text)
        except ValueError:
            return self.value()

    def validate(self, text, pos):
        from PySide6.QtGui import QValidator
        try:
            v = float(text)
        except ValueError:
            return QValidator.Intermediate, text, pos
        return (QValidator.Acceptable if self.minimum() <= v <= self.maximum() else QValidator.Intermediate), text, pos

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
        self.arch.addItems(preset_ids())
        self.arch.setToolTip("Which machine. Switching keeps the workload and restarts the simulation.")
        # Ranges reach the extremes a class asks about; combinations past what the view can show
        # are refused with a message (live_limit_message) instead of being clamped silently.
        self.size = self._spin(1, 10_000, "servers (cluster), wafers, or chips per torus side (1 to 10,000)")
        self.rows = self._spin(1, 1024, "rows of cores drawn per chip (the mesh resolution, 1 to 1,024)")
        self.cols = self._spin(1, 1024, "columns of cores drawn per chip (1 to 1,024)")
        self.bw = self._dspin(1e-12, 1e4, 12, "multiplies every off-chip link's bandwidth (1e-12: ~1 B/s links; "
                              "up to 10,000x: beyond 10 TB/s)")
        self.lat = self._dspin(1e-4, 1e7, 4, "multiplies every off-chip link's latency (1e-4: ~1 ns hops; "
                               "up to 1e7: seconds)")
        self.chunk = QComboBox()
        self.chunk.addItems([_bytes_label(c) for c in CHUNK_SIZES])
        self.chunk.setToolTip("Tensors travel cut into chunks of this size (one particle each).")
        self.buffer = self._spin(1, 64, "receive-buffer depth of every link, in chunks (backpressure)")
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
        self.nbytes = self._dspin(1e-6, 1e5, 6, "tensor size in MB (1 MB = 1e6 bytes; 1e-6 = 1 byte, up to 100 GB)")
        self.pattern = QComboBox()
        self.pattern.addItems(list(PATTERNS))
        self.rate = self._dspin(0.0, 1.0, 4, "flits per core per cycle injected by every core")
        self.params = self._dspin(1.0, 1e6, 0, "model size in millions of parameters (gradients: 2 bytes each)")
        self.tokens = self._spin(1, 1 << 20, "tokens each device processes per iteration (its batch)")
        for label, w in (("kind", self.kind), ("operation", self.op), ("algorithm", self.algo),
                         ("tensor (MB)", self.nbytes), ("NoC pattern", self.pattern), ("NoC rate", self.rate),
                         ("model (M params)", self.params), ("tokens / device", self.tokens)):
            g.addRow(label, w)
        lay.addWidget(wl)
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("color: #ff8a80; font-weight: bold")
        self.notice.hide()
        lay.addWidget(self.notice)
        lay.addStretch(1)
        for w in (self.arch, self.chunk, self.kind, self.op, self.algo, self.pattern):
            w.currentIndexChanged.connect(self._on_value_changed)
        for w in (self.size, self.rows, self.cols, self.bw, self.lat, self.buffer, self.nbytes, self.rate,
                  self.params, self.tokens):
            w.valueChanged.connect(self._on_value_changed)

    def _spin(self, lo, hi, tip) -> QSpinBox:
        s = QSpinBox()
        s.setRange(lo, hi)
        s.setToolTip(tip)
        return s

    def _dspin(self, lo, hi, dec, tip) -> QDoubleSpinBox:
        s = CompactSpinBox()
        s.setRange(lo, hi)
        s.setDecimals(dec)
        s.setToolTip(tip)
        return s

    def show_scenario(self, sc: Scenario, spec) -> None:
        """Show ``sc`` (built on ``spec``) without emitting anything."""
        self._loading = True
        self.scenario = sc
        if self.arch.findText(sc.architecture) < 0:
            self.arch.addItem(sc.architecture)
        self.arch.setCurrentText(sc.architecture)
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
        arch = self.arch.currentText()
        same_arch = arch == sc.architecture
        params = dict(sc.params)
        params.update(op=self.op.currentText(), algo=self.algo.currentText(), nbytes=self.nbytes.value() * 1e6,
                      pattern=self.pattern.currentText(), rate=self.rate.value(), params=self.params.value() * 1e6,
                      tokens_per_device=self.tokens.value())
        size = self.size.value()
        topo = getattr(self, "_topology_kind", "cluster")
        return sc.replace(
            name=sc.name if sc.name.startswith("custom") else sc.name + "*",
            architecture=arch,
            size=size if (same_arch and topo != "torus") else None,
            dims=(size, size, size) if (same_arch and topo == "torus") else None,
            tiles=(self.rows.value(), self.cols.value()) if same_arch else None,
            offchip_bandwidth_scale=self.bw.value(), offchip_latency_scale=self.lat.value(),
            chunk_bytes=CHUNK_SIZES[self.chunk.currentIndex()], buffer_chunks=self.buffer.value(),
            workload=self.kind.currentText(), params=params, sim_rate_s=sc.sim_rate_s if same_arch else 0.0,
        )

    def _emit(self) -> None:
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

    def shutdown(self) -> None:
        self.debounce.stop()


def _bytes_label(n: int) -> str:
    if n >= 1 << 20:
        return f"{n >> 20} MiB"
    if n >= 1024:
        return f"{n >> 10} KiB"
    return f"{n} B"
