"""Run slow work (building a fabric, comparing architectures) off the GUI thread.

A ``JobRunner`` owns its ``QThreadPool``; ``shutdown`` waits for running jobs, so no
thread outlives the window (and no test leaks one). Results from a job that has been
superseded by a newer one of the same name are dropped.
"""
from __future__ import annotations

import traceback

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal


class _Signals(QObject):
    done = Signal(object)
    failed = Signal(str, str)
    progress = Signal(int, int, str)


class _Job(QRunnable):
    def __init__(self, fn, signals: _Signals):
        super().__init__()
        self.fn = fn
        self.signals = signals
        self.setAutoDelete(True)

    def run(self) -> None:
        try:
            result = self.fn(self.signals.progress.emit)
        except Exception as exc:
            self.signals.failed.emit(str(exc), traceback.format_exc())
            return
        self.signals.done.emit(result)


class JobRunner(QObject):
    """Named background jobs; ``busy_changed`` drives a progress indicator."""

    busy_changed = Signal(bool)
    progress = Signal(int, int, str)

    def __init__(self, parent=None, threads: int = 1):
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(threads)
        self._generation: dict[str, int] = {}
        self._live: set[_Signals] = set()

    def submit(self, name: str, fn, on_done, on_error) -> None:
        """Run ``fn(progress)`` in the pool; call ``on_done(result)`` or ``on_error(msg, details)``."""
        gen = self._generation.get(name, 0) + 1
        self._generation[name] = gen
        sig = _Signals()
        self._live.add(sig)

        def finish(callback, *args):
            self._live.discard(sig)
            if not self._live:
                self.busy_changed.emit(False)
            if self._generation.get(name) == gen:
                callback(*args)

        sig.done.connect(lambda r: finish(on_done, r))
        sig.failed.connect(lambda m, d: finish(on_error, m, d))
        sig.progress.connect(self.progress)
        self.busy_changed.emit(True)
        self.pool.start(_Job(fn, sig))

    @property
    def busy(self) -> bool:
        return bool(self._live)

    def shutdown(self, timeout_ms: int = 30000) -> None:
        self._generation = {k: v + 1 for k, v in self._generation.items()}
        self.pool.clear()
        self.pool.waitForDone(timeout_ms)
