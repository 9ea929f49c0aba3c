"""A progress line on stderr: points done, total, elapsed and estimated time left.

On a terminal the line is redrawn in place (at most every 0.2 s); in a log file one line
is written every 10 s, so a long sweep's log stays readable.
"""
from __future__ import annotations

import sys
import time


def duration_text(seconds: float) -> str:
    """``42 s``, ``3 min 20 s`` or ``2 h 05 min``."""
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


class Progress:
    """Counts this run's points; ``already`` were in the results file before it started."""

    def __init__(self, total: int, already: int = 0, stream=None, label: str = "sweep"):
        self.total, self.already, self.label = total, already, label
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.t0 = time.perf_counter()
        self.last = -1e9
        self.done = self.errors = 0

    def update(self, done: int, errors: int, force: bool = False) -> None:
        self.done, self.errors = done, errors
        now = time.perf_counter()
        if not force and now - self.last < (0.2 if self.tty else 10.0) and done < self.todo:
            return
        self.last = now
        line = self.line(now - self.t0)
        if self.tty:
            self.stream.write("\r" + line.ljust(100)[:100] + ("\n" if done >= self.todo else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    @property
    def todo(self) -> int:
        return self.total - self.already

    def line(self, elapsed_s: float) -> str:
        n = self.already + self.done
        share = n / self.total if self.total else 1.0
        left = self.todo - self.done
        eta = duration_text(elapsed_s / self.done * left) if self.done and left else ("-" if left else "0 s")
        refused = f", {self.errors:,} refused" if self.errors else ""
        return (f"{self.label}: {n:,} of {self.total:,} points ({share:.0%}){refused}, "
                f"{duration_text(elapsed_s)} elapsed, ETA {eta}")
