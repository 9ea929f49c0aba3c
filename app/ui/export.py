"""Export a scene: PNG of the view, GIF or MP4 of a beat or the whole scene, CSV of metrics,
the architecture as TOML.

Every file is written through ``sim_core.atomic_io.write_atomic_with``: the encoder writes
a temporary file next to the target, renamed over it only when the export finished, so a
failed or cancelled export leaves nothing behind. GIFs use Pillow (through imageio), MP4s
the ffmpeg binary that ships inside the ``imageio-ffmpeg`` wheel.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from sim_core.atomic_io import write_atomic, write_atomic_with

VIDEO_SUFFIXES = (".gif", ".mp4")
MAX_SECONDS_PER_BEAT = 6.0
MIN_SECONDS_PER_BEAT = 2.0


class ExportCancelled(Exception):
    """The user cancelled; the partial file has been removed."""


def grab_rgb(widget, size: tuple[int, int] | None = None) -> np.ndarray:
    """(H, W, 3) uint8 picture of ``widget``, scaled to ``size`` (W, H) if given (even sides for MP4)."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage
    img = widget.grab().toImage()
    if size is not None:
        img = img.scaled(size[0], size[1], Qt.IgnoreAspectRatio, Qt.SmoothTransformation)
    img = img.convertToFormat(QImage.Format_RGB888)
    w, h = img.width(), img.height()
    arr = np.frombuffer(img.constBits(), dtype=np.uint8, count=img.bytesPerLine() * h)
    arr = arr.reshape(h, img.bytesPerLine())[:, : 3 * w].reshape(h, w, 3)
    return arr[: h - h % 2, : w - w % 2].copy()


def export_png(widget, path: str | Path, size: tuple[int, int] | None = None) -> Path:
    """The widget as a PNG at ``size`` (W, H) pixels; atomic."""
    from PySide6.QtCore import Qt
    pix = widget.grab()
    if size is not None:
        pix = pix.scaled(size[0], size[1], Qt.KeepAspectRatio, Qt.SmoothTransformation)

    def writer(tmp: str) -> None:
        if not pix.save(tmp, "PNG"):
            raise OSError(f"could not encode a PNG at {tmp}")
    return write_atomic_with(path, writer)


def write_screenshot(widget, path: str | Path) -> bool:
    """The command line's ``--screenshot``: write atomically, say what happened in one line."""
    import sys
    try:
        export_png(widget, path)
    except OSError as exc:
        print(f"meshscope: could not write {path}: {exc.strerror or exc}", file=sys.stderr)
        return False
    print(f"wrote {path}")
    return True


def export_csv(engines, path: str | Path) -> Path:
    """Recorded per-step metrics of every pane (one CSV block per pane, headed by its index)."""
    parts = []
    for i, eng in enumerate(engines):
        text = eng.metrics.to_csv()
        parts.append(text if len(engines) == 1 else f"# pane {i}\n{text}")
    return write_atomic(path, "\n".join(parts))


def export_architecture(spec, path: str | Path) -> Path:
    """The architecture ``spec`` as a TOML file that ``--scene``/Open architecture loads back; atomic."""
    from sim_core import architecture_to_toml
    return write_atomic(path, architecture_to_toml(spec))


def scene_frames(win, fps: int, beats=None, size=None, max_s: float = MAX_SECONDS_PER_BEAT):
    """Yield frames of ``win`` (a SceneWindow) playing ``beats`` (default all), each until its
    event or ``max_s`` of video; the simulation advances by the scene's rate per frame."""
    from PySide6.QtWidgets import QApplication
    app = QApplication.instance()
    win.jobs.pool.waitForDone(120000)  # the numbers must be on screen
    app.processEvents()
    beats = range(len(win.scene.beats)) if beats is None else beats
    for b in beats:
        win.goto_beat(b)
        c = win.controller
        app.processEvents()
        n = 0
        while n < max_s * fps and (n < MIN_SECONDS_PER_BEAT * fps or not win.run.beat_done()):
            c.advance(1.0 / fps, budget_s=10.0)
            app.processEvents()
            yield grab_rgb(win, size)
            n += 1


def count_frames_hint(win, fps: int, beats=None) -> int:
    n = len(win.scene.beats) if beats is None else len(list(beats))
    return int(n * MAX_SECONDS_PER_BEAT * fps)


def export_video(frames, path: str | Path, fps: int, progress=None, cancelled=lambda: False) -> int:
    """Encode ``frames`` (iterable of (H, W, 3) uint8) to ``path`` (.gif or .mp4); returns the frame count.

    ``progress(n)`` after each frame; ``cancelled()`` True stops and removes the partial file
    (raises ``ExportCancelled``).
    """
    import imageio.v2 as iio
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise ValueError(f"{path.name}: allowed video types {', '.join(VIDEO_SUFFIXES)}")
    count = [0]

    def writer(tmp: str) -> None:
        if suffix == ".gif":
            w = iio.get_writer(tmp, format="GIF", mode="I", duration=1000.0 / fps, loop=0)
        else:
            w = iio.get_writer(tmp, format="FFMPEG", mode="I", fps=fps, codec="libx264", quality=7,
                               macro_block_size=2, pixelformat="yuv420p", ffmpeg_log_level="error")
        try:
            for frame in frames:
                if cancelled():
                    raise ExportCancelled(f"export of {path.name} cancelled; nothing written")
                w.append_data(frame)
                count[0] += 1
                if progress:
                    progress(count[0])
        finally:
            w.close()
        if count[0] == 0:
            raise ValueError("no frames to write")
    write_atomic_with(path, writer)
    return count[0]
