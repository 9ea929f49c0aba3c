"""Write files so a crash or a full disk never leaves half a file over a good one.

The data goes to a temporary file in the same folder, is flushed to disk, then renamed
over the target (``os.replace`` is atomic on POSIX and Windows). On any failure the
temporary file is removed and the original is untouched.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _mode_for(target: Path) -> int:
    """The replaced file's mode, or what a plain ``open(..., "w")`` would give (0666 & ~umask)."""
    try:
        return target.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_atomic(path: str | os.PathLike, data: bytes | str, *, encoding: str = "utf-8") -> Path:
    """Replace ``path`` with ``data`` atomically; returns the path written."""
    payload = data.encode(encoding) if isinstance(data, str) else bytes(data)

    def writer(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())

    return write_atomic_with(path, writer)


def write_atomic_with(path: str | os.PathLike, writer) -> Path:
    """Atomic write for producers that need a real file path (image and video encoders).

    ``writer(tmp_path)`` writes the whole file to ``tmp_path`` (same folder and suffix as
    the target); it is renamed over ``path`` only if ``writer`` returns without raising.
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".part{target.suffix}", dir=folder)
    except OSError as exc:  # name the user's folder, not our temporary file
        raise OSError(exc.errno, f"cannot write in {folder}: {exc.strerror}") from None
    os.close(fd)
    try:
        writer(tmp)
        os.chmod(tmp, _mode_for(target))  # mkstemp makes 0600; a saved file gets the usual mode
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return target
