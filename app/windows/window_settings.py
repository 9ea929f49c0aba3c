"""What the main window remembers between runs: layout, playback speed, the last scenario.

The values are validated when the settings file is opened (``app.ui.settings_store``);
here they are only written and read back.
"""
from __future__ import annotations

import dataclasses
import json

from PySide6.QtCore import QByteArray, QSettings

from sim_core import SpecError

from app.model.scenario import Scenario


def restore(win, settings: QSettings | None) -> None:
    """Apply the saved geometry, dock layout and speed to ``win`` (nothing if ``settings`` is None)."""
    if settings is None:
        return
    geo = settings.value("window/geometry")
    if isinstance(geo, QByteArray):
        win.restoreGeometry(geo)
    state = settings.value("window/state")
    if isinstance(state, QByteArray):
        win.restoreState(state)
    speed = settings.value("sim/speed")
    if speed is not None:
        try:
            win.controller.set_speed(float(speed))
        except (TypeError, ValueError):
            pass


def save(win, settings: QSettings | None) -> None:
    if settings is None:
        return
    settings.setValue("window/geometry", win.saveGeometry())
    settings.setValue("window/state", win.saveState())
    settings.setValue("sim/speed", win.controller.speed)
    settings.setValue("sim/scenario", scenario_to_json(win.sim.scenario))
    settings.sync()


def scenario_to_json(sc: Scenario) -> str:
    return json.dumps(dataclasses.asdict(sc))


def scenario_from_json(text: str) -> Scenario:
    d = json.loads(text)
    for key in ("tiles", "dims"):
        if d.get(key) is not None:
            d[key] = tuple(d[key])
    return Scenario(**d)


def load_saved_scenario(settings: QSettings) -> Scenario | None:
    text = settings.value("sim/scenario")
    if not text:
        return None
    try:
        return scenario_from_json(str(text))
    except (TypeError, ValueError, SpecError):
        return None
