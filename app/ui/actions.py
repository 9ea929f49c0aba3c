"""Named actions, defined once and shared by toolbar buttons, menus, shortcuts and tests.

``Actions(window, owners)`` creates one ``QAction`` per entry of ``SPECS`` and connects it
to the first owner's method of the same name (``act_<name>``; the window by default, or
the objects that hold each job's handlers). Tests trigger them by shortcut
or by ``actions["play"].trigger()``.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence

# name: (text, shortcut, tooltip, menu)
SPECS = {
    "play": ("Play / pause", "Space", "Run or pause the simulation", "Simulation"),
    "step": ("Step", "Right", "Advance exactly one simulation step", "Simulation"),
    "step_back": ("Step back", "Left", "Rewind to the previous kept snapshot (replays identically)", "Simulation"),
    "reset": ("Reset", "R", "Back to time zero and fit the view", "Simulation"),
    "faster": ("Faster", "]", "Double the playback speed", "Simulation"),
    "slower": ("Slower", "[", "Halve the playback speed", "Simulation"),
    "skip_idle": ("Skip idle spans", "I", "Jump over simulated time in which no data moves (compute phases), "
                  "and say on the clock how much was skipped", "Simulation"),
    "next_architecture": ("Next architecture", "A", "Same workload on the next preset architecture", "Simulation"),
    "fit": ("Fit view", "F", "Show the whole fabric", "View"),
    "open_architecture": ("Open architecture...", QKeySequence.Open, "Load a custom architecture TOML file", "File"),
    "save_architecture": ("Save architecture...", QKeySequence.Save, "Save the current architecture as TOML", "File"),
    "save_scene": ("Save as scene...", "Ctrl+Shift+S", "Save what runs now as a scene file that reopens to the "
                   "same picture (same seed, same numbers)", "File"),
    "open_sweep": ("Open sweep results...", "Ctrl+Shift+O", "Show a sweep's results table as a chart; click a "
                   "point to run that configuration here", "File"),
    "export_png": ("Export view as PNG...", "Ctrl+E", "Save a picture of the mesh view", "File"),
    "export_csv": ("Export metrics as CSV...", "Ctrl+Shift+E", "Save the recorded per-step metrics", "File"),
    "quit": ("Quit", QKeySequence.Quit, "Close Meshscope", "File"),
    "about": ("About Meshscope", "F1", "Versions and credits", "Help"),
}


class Actions:
    """The app's ``QAction`` objects by name; ``window.act_<name>`` runs each."""

    def __init__(self, window, owners=None):
        owners = tuple(owners or (window,))
        self._actions: dict[str, QAction] = {}
        for name, (text, key, tip, _menu) in SPECS.items():
            a = QAction(text, window)
            a.setObjectName(f"action_{name}")
            a.setShortcut(QKeySequence(key))
            a.setShortcutContext(Qt.WindowShortcut)
            shown = a.shortcut().toString(QKeySequence.NativeText)
            a.setToolTip(f"{tip} ({shown})" if shown else tip)
            a.setStatusTip(tip)
            handler = next(getattr(o, f"act_{name}") for o in owners if hasattr(o, f"act_{name}"))
            a.triggered.connect(handler)
            window.addAction(a)
            self._actions[name] = a

    def __getitem__(self, name: str) -> QAction:
        return self._actions[name]

    def __iter__(self):
        return iter(self._actions.items())

    def menus(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for name, spec in SPECS.items():
            out.setdefault(spec[3], []).append(name)
        return out
