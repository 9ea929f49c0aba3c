"""Run slow work (building a fabric, comparing architectures) off the GUI thread.

A ``JobRunner`` owns its ``QThreadPool``; ``shutdown`` cancels and waits for running
jobs, so no thread outlives the window (and no test leaks one). A job superseded by a
newer one of the same name is cancelled and its result dropped. Cancellation is
cooperative (``sim_core.cancel``): the engine checks the job's token every step.
"""
from __future__ import annotations

import traceback

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from sim_core.cancel import CancelToken, Cancelled, cancellable


class _Signals(QObject):
    done = Signal(object)
    failed = Signal(str, str)
    progress = Signal(int, int, str)


class _Job(QRunnable):
    def __init__(self, fn, signals: _Signals, token: CancelToken):
        super().__init__()
        self.fn = fn
        self.signals = signals
        self.token = token
        self.setAutoDelete(True)

    def run(self) -> None:
        try:
            with cancellable(self.token):
                result = self.fn(self.signals.progress.emit)
        except Cancelled:
            self.signals.failed.emit("cancelled", "")
            return
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
        self._tokens: dict[str, CancelToken] = {}

    def submit(self, name: str, fn, on_done, on_error) -> None:
        """Run ``fn(progress)`` in the pool; call ``on_done(result)`` or ``on_error(msg, details)``."""
        gen = self._generation.get(name, 0) + 1
        self._generation[name] = gen
        if name in self._tokens:
            self._tokens[name].cancel()  # superseded: stop computing a result nobody wants
        token = self._tokens[name] = CancelToken()
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
        self.pool.start(_Job(fn, sig, token))

    def cancel(self, name: str) -> None:
        """Cancel job ``name`` (a Cancel button): its token stops it at the next engine step and its
        result, if any, is dropped."""
        self._generation[name] = self._generation.get(name, 0) + 1
        if name in self._tokens:
            self._tokens[name].cancel()

    @property
    def busy(self) -> bool:
        return bool(self._live)

    def shutdown(self, timeout_ms: int = 30000) -> None:
        self._generation = {k: v + 1 for k, v in self._generation.items()}
        for token in self._tokens.values():
            token.cancel()
        self.pool.clear()
        self.pool.waitForDone(timeout_ms)
