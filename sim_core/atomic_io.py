"""Write files so a crash or a full disk never leaves half a file over a good one.

The data goes to a temporary file in the same folder, is flushed to disk, then renamed
over the target (``os.replace`` is atomic on POSIX and Windows). On any failure the
temporary file is removed and the original is untouched.

A new file gets the mode a plain ``open(path, "w")`` would give: the temporary file is
created with 0666 and the kernel applies the process umask, so the umask is never read
or changed (changing it is process-wide and would race with other threads writing files).
A replaced file keeps its own mode.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path


def _create_temp(folder: Path, target: Path) -> str:
    """A new empty file next to ``target`` (mode 0666 less the umask); returns its path."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = folder / f".{target.stem}.{secrets.token_hex(4)}.part{target.suffix}"
        try:
            os.close(os.open(tmp, flags, 0o666))
            return str(tmp)
        except FileExistsError:
            continue
        except OSError as exc:  # name the user's folder, not our temporary file
            raise OSError(exc.errno, f"cannot write in {folder}: {exc.strerror}") from None
    raise OSError(f"cannot create a temporary file in {folder}")


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
    tmp = _create_temp(folder, target)
    try:
        writer(tmp)
        try:
            os.chmod(tmp, target.stat().st_mode & 0o7777)  # a replaced file keeps its mode
        except FileNotFoundError:
            pass
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return target
