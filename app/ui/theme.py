"""Dark or light, following the system; fonts sized for a projector; the app's icon and stylesheet.

The mesh view keeps its dark canvas in both themes (glowing links read best on black);
the window chrome and the plots follow the system colour scheme. The icon
(``assets/meshscope.svg`` and its PNG renderings) and the stylesheet
(``assets/meshscope.qss``) ship with the wheel; ``app_icon()`` is what every window sets.
"""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPalette
from PySide6.QtWidgets import QApplication

from app.paths import assets_dir

BASE_POINT_SIZE = 11
ICON_NAME = "meshscope"
ICON_PNG_SIZES = (16, 32, 64, 256)
STYLESHEET = "meshscope.qss"


def app_icon() -> QIcon:
    """Meshscope's icon: the SVG plus PNG renderings (for platforms without an SVG icon engine)."""
    icon = QIcon()
    try:
        folder = assets_dir()
    except FileNotFoundError:
        return icon
    for size in ICON_PNG_SIZES:
        png = folder / f"{ICON_NAME}-{size}.png"
        if png.is_file():
            icon.addFile(str(png))
    svg = folder / f"{ICON_NAME}.svg"
    if svg.is_file():
        icon.addFile(str(svg))
    return icon


def stylesheet() -> str:
    """The app's stylesheet text ('' when the assets folder is missing: Qt's defaults then)."""
    try:
        return (assets_dir() / STYLESHEET).read_text(encoding="utf-8")
    except (FileNotFoundError, OSError):
        return ""


def is_dark(app: QApplication) -> bool:
    scheme = app.styleHints().colorScheme()
    if scheme == Qt.ColorScheme.Dark:
        return True
    if scheme == Qt.ColorScheme.Light:
        return False
    return app.palette().color(QPalette.Window).lightness() < 128


def apply_theme(app: QApplication, dark: bool | None = None) -> bool:
    """Style ``app`` and pyqtgraph; returns whether the dark theme was chosen."""
    dark = is_dark(app) if dark is None else dark
    app.setStyle("Fusion")
    font = QFont(app.font())
    font.setPointSize(BASE_POINT_SIZE)
    app.setFont(font)
    if dark:
        pal = QPalette()
        for role, rgb in ((QPalette.Window, (32, 35, 40)), (QPalette.WindowText, (225, 228, 232)),
                          (QPalette.Base, (22, 24, 28)), (QPalette.AlternateBase, (40, 44, 50)),
                          (QPalette.Text, (225, 228, 232)), (QPalette.Button, (45, 49, 56)),
                          (QPalette.ButtonText, (225, 228, 232)), (QPalette.Highlight, (60, 120, 200)),
                          (QPalette.HighlightedText, (255, 255, 255)), (QPalette.ToolTipBase, (45, 49, 56)),
                          (QPalette.ToolTipText, (235, 235, 235))):
            pal.setColor(role, QColor(*rgb))
        app.setPalette(pal)
    app.setStyleSheet(stylesheet())
    app.setWindowIcon(app_icon())
    pg.setConfigOptions(background=(22, 24, 28) if dark else "w", foreground=(210, 214, 220) if dark else (40, 40, 40),
                        antialias=False)
    return dark
