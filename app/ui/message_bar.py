"""A non-modal error strip: one line that names what is wrong, and a "copy details" button."""
from __future__ import annotations

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton


class MessageBar(QFrame):
    """Shown above the mesh view; the app keeps running while it is up."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("MessageBar")  # styled by assets/meshscope.qss
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 4, 8, 4)
        self.label = QLabel()
        self.label.setWordWrap(True)
        lay.addWidget(self.label, 1)
        self.copy_button = QPushButton("Copy details")
        self.copy_button.clicked.connect(self._copy)
        lay.addWidget(self.copy_button)
        close = QPushButton("Dismiss")
        close.clicked.connect(self.hide)
        lay.addWidget(close)
        self.details = ""
        self.hide()

    def show_error(self, message: str, details: str = "") -> None:
        self.label.setText(message)
        self.details = details or message
        self.show()

    @property
    def message(self) -> str:
        return self.label.text() if self.isVisible() else ""

    def _copy(self) -> None:
        QGuiApplication.clipboard().setText(f"{self.label.text()}\n\n{self.details}")
