"""The panel that pins the numbers of what was clicked (rows from ``app.model.describe``)."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QLabel, QVBoxLayout, QWidget

from app.model.describe import WHY_LINK, describe_target, tooltip_html

HINT = "Click a link, a chip or a particle to pin its numbers here."
__all__ = ["Inspector", "tooltip_html"]


class Inspector(QWidget):
    """Pinned numbers of what was clicked, refreshed as the simulation runs."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.target = None
        self.values: dict[str, float] = {}
        self.texts: dict[str, str] = {}
        lay = QVBoxLayout(self)
        self.title = QLabel(HINT)
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextSelectableByMouse)
        lay.addWidget(self.title)
        self.form = QFormLayout()
        lay.addLayout(self.form)
        self.why = QLabel("")
        self.why.setObjectName("hint")
        self.why.setWordWrap(True)
        lay.addWidget(self.why)
        lay.addStretch(1)
        self._labels: dict[str, QLabel] = {}

    def pin(self, sim, target) -> None:
        self.target = target
        self.refresh(sim)

    def clear(self) -> None:
        """Forget the pinned target (the architecture changed: its ids mean something else now)."""
        self.target = None
        self.values, self.texts = {}, {}
        while self.form.rowCount():
            self.form.removeRow(0)
        self._labels = {}
        self.title.setText(HINT)
        self.why.setText("")

    def refresh(self, sim) -> None:
        title, rows = describe_target(sim, self.target)
        if not rows:
            if self.target is not None:
                self.clear()
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
        for key, text, _raw in rows:
            self._labels[key].setText(text)
        self.values = {k: raw for k, _, raw in rows}
        self.texts = {k: t for k, t, _ in rows}
        self.why.setText(WHY_LINK if self.target[0] == "link" else "")
