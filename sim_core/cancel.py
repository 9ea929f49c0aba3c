"""Cooperative cancellation of long computations (a ``compare`` or ``scaling`` study).

A GUI worker runs its computation inside ``with cancellable(token):``; the engine calls
``check()`` every step and the study loops call it between cases, so ``token.cancel()``
from another thread stops the work within one engine step by raising ``Cancelled``.
A context variable carries the token, so no function needs an extra parameter, and work
outside any ``cancellable`` block never stops.
"""
from __future__ import annotations

import contextvars
from contextlib import contextmanager


class Cancelled(Exception):
    """Raised inside cancelled work; the caller that asked for cancellation expects it."""


class CancelToken:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


_current: contextvars.ContextVar[CancelToken | None] = contextvars.ContextVar("meshscope_cancel", default=None)


@contextmanager
def cancellable(token: CancelToken):
    reset = _current.set(token)
    try:
        yield token
    finally:
        _current.reset(reset)


def check() -> None:
    """Raise ``Cancelled`` if the work running in this context has been cancelled."""
    token = _current.get()
    if token is not None and token.cancelled:
        raise Cancelled("cancelled")
