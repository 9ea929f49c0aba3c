"""Keyboard shortcuts that work whatever has focus.

A focused spin box, combo box or slider takes Space and the arrow keys for itself (a
Space press cleared a number field), so the window's single-key shortcuts would never
fire while one of them has focus. ``ShortcutGuard`` refuses those keys to the editors it
watches, so Qt hands them to the window's actions instead. Ctrl/Alt combinations and
every other key still reach the editor.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractButton, QAbstractSlider, QAbstractSpinBox, QComboBox, QLineEdit, QWidget

GUARDED = (QAbstractSpinBox, QComboBox, QLineEdit, QAbstractSlider, QAbstractButton)


class ShortcutGuard(QObject):
    """Event filter: the keys in ``keys`` (Qt.Key values, no modifier) are the window's, not the editor's."""

    def __init__(self, keys, parent=None):
        super().__init__(parent)
        self.keys = set(int(k) for k in keys)

    def watch(self, root: QWidget) -> None:
        """Guard every editor under ``root`` (call again after adding widgets)."""
        for w in root.findChildren(QWidget):
            if isinstance(w, GUARDED):
                w.removeEventFilter(self)
                w.installEventFilter(self)

    def eventFilter(self, obj, ev) -> bool:
        if ev.type() == QEvent.ShortcutOverride:
            mods = ev.modifiers() & ~(Qt.KeypadModifier | Qt.ShiftModifier)
            if int(ev.key()) in self.keys and mods == Qt.NoModifier:
                ev.ignore()  # not the editor's: the shortcut map gives it to the window's action
                return True
        return False
