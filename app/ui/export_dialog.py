"""The GUI side of export: pick a file, then render with a progress dialog and a Cancel button."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox, QProgressDialog

from app.ui import export as ex

FILTERS = "MP4 video (*.mp4);;Animated GIF (*.gif);;PNG image (*.png);;Metrics CSV (*.csv)"
PNG_SIZES = ["1920x1080", "3840x2160", "1280x720", "window size"]


def ask_and_export(win) -> None:
    path, _ = QFileDialog.getSaveFileName(win, "Export", "meshscope.mp4", FILTERS)
    if not path:
        return
    try:
        export_to(win, path, ask=True)
    except ex.ExportCancelled as exc:
        win.message_bar.show_error(str(exc))
    except Exception as exc:  # say why; the atomic writer left nothing behind
        win.message_bar.show_error(f"Export failed, nothing written: {type(exc).__name__}: {exc}")


def export_to(win, path: str, ask: bool = False, size=None, fps: int = 15, whole_scene: bool = True):
    suffix = Path(path).suffix.lower()
    if suffix == ".png":
        if ask:
            choice, ok = QInputDialog.getItem(win, "PNG size", "Resolution", PNG_SIZES, 0, False)
            if not ok:
                return None
            size = None if choice == "window size" else tuple(int(v) for v in choice.split("x"))
        return ex.export_png(win, path, size)
    if suffix == ".csv":
        return ex.export_csv([win.controller.sim.engine] + [f.engine for f in win.controller.followers], path)
    if ask:
        whole_scene = QMessageBox.question(win, "Export video", "The whole scene? (No: only the current beat)") \
            == QMessageBox.Yes
    beats = None if whole_scene else [win.run.beat]
    total = ex.count_frames_hint(win, fps, beats)
    dlg = QProgressDialog(f"Rendering {Path(path).name}...", "Cancel", 0, total, win)
    dlg.setWindowModality(Qt.WindowModal)
    dlg.setMinimumDuration(0)
    was_playing = win.controller.state == "playing"
    win.controller.pause()
    try:
        return ex.export_video(ex.scene_frames(win, fps, beats, size), path, fps,
                               progress=dlg.setValue, cancelled=dlg.wasCanceled)
    finally:
        dlg.close()
        dlg.deleteLater()
        if was_playing:
            win.controller.play()
