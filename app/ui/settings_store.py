"""Open the user's settings, and set a corrupt settings file aside instead of failing on it.

A settings file can be damaged by a crash mid-write, a full disk, a hand edit or another
version of the app. Every value the window reads back is checked here (the file parses,
each key has the type it is written with, the saved scenario names an architecture and a
workload that exist, the window geometry restores). If anything is wrong the whole file is
renamed to ``<name>.corrupt-<timestamp>`` (``os.replace``: atomic, nothing is deleted, so a
user can still recover it) and the app starts with defaults, saying so on stderr and in the
status bar.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import sys
import time

from PySide6.QtCore import QByteArray, QSettings

NOTICE = "settings were unreadable and were set aside: {path}; starting with defaults"
KEYS = ("window/geometry", "window/state", "sim/speed", "sim/scenario")
KEY_PATTERN = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # QSettings escapes these; \t \n \r are text


class CorruptSettings(ValueError):
    """A settings value (or the file) that cannot be used; the message names the key."""


def open_settings(path: str | os.PathLike | None = None) -> tuple[QSettings | None, str | None]:
    """The app's settings, validated: ``(settings, notice)``.

    ``path`` None opens the user's settings (organisation/application names must be set);
    a path opens that INI file (tests, portable installs). ``notice`` is None when the file
    was fine, else the one-line message already printed on stderr, for the status bar.
    ``settings`` is None (the window then saves nothing) if a bad file could not be moved.
    """
    settings = _open(path)
    try:
        check_settings(settings)
        return settings, None
    except CorruptSettings as exc:
        file = settings.fileName()
        del settings  # let Qt drop its handle and cache before the file is moved
        try:
            aside = set_aside(file)
        except OSError as err:
            # Saving over the bad file would destroy what a user may want to recover:
            # run on defaults and do not save settings this session.
            notice = (f"settings were unreadable and could not be set aside ({err.strerror}): {file}; "
                      "starting with defaults, settings will not be saved this session")
            print(f"meshscope: {notice} ({exc})", file=sys.stderr)
            return None, notice
        notice = NOTICE.format(path=aside)
        print(f"meshscope: {notice} ({exc})", file=sys.stderr)
        fresh = _open(path)
        fresh.clear()  # Qt may still hold the old values in its per-file cache
        return fresh, notice


def _open(path) -> QSettings:
    return QSettings() if path is None else QSettings(str(path), QSettings.IniFormat)


def set_aside(file: str) -> str:
    """Rename ``file`` to ``<file>.corrupt-<timestamp>`` (atomic); returns the new path."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = f"{file}.corrupt-{stamp}"
    n = 1
    while os.path.exists(target):
        target = f"{file}.corrupt-{stamp}-{n}"
        n += 1
    os.replace(file, target)
    return target


def check_settings(settings: QSettings) -> None:
    """Raise ``CorruptSettings`` naming the first unusable key (or the file)."""
    if settings.status() != QSettings.NoError:
        raise CorruptSettings(f"{settings.fileName()}: the file cannot be read or parsed")
    path = settings.fileName()
    if path and os.path.exists(path) and not os.access(path, os.R_OK):
        raise CorruptSettings(f"{path}: the file cannot be read")
    if path and os.path.isfile(path):
        _check_text(path)
    keys = settings.allKeys()
    if not keys and path and os.path.isfile(path) and os.path.getsize(path) > 0:
        raise CorruptSettings(f"{path}: no settings could be parsed from the file")
    for key in keys:
        # Keys this app (or a later version) writes are group/name identifiers; anything
        # else is debris from a damaged file. Unknown well-formed keys are left alone so
        # a newer version's settings do not get thrown away by an older one.
        if not KEY_PATTERN.fullmatch(key):
            raise CorruptSettings(f"{path}: unreadable key {key!r}")
    for key in ("window/geometry", "window/state"):
        value = settings.value(key)
        if value is not None and not isinstance(value, QByteArray):
            raise CorruptSettings(f"{key}: expected saved window bytes, got {type(value).__name__}")
    _check_geometry(settings.value("window/geometry"), settings.value("window/state"))
    _check_speed(settings.value("sim/speed"))
    text = settings.value("sim/scenario")
    if text is not None:
        check_scenario_json(text)


def _check_text(path: str) -> None:
    """The file must be what QSettings writes: UTF-8 text without control characters.

    Qt's INI parser is lenient: random bytes that happen to hold ``d=`` after a line
    break parse as a well-formed key, so the bytes themselves are checked first.
    """
    with open(path, "rb") as fh:
        data = fh.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorruptSettings(f"{path}: not UTF-8 text (byte {exc.start})") from None
    bad = CONTROL.search(text)
    if bad:
        raise CorruptSettings(f"{path}: control character {bad.group()!r} at offset {bad.start()}")


def _check_geometry(geo, state) -> None:
    from PySide6.QtWidgets import QApplication, QMainWindow
    if (geo is None and state is None) or QApplication.instance() is None:
        return
    probe = QMainWindow()  # never shown; Python owns it, so it is destroyed on return
    if geo is not None and not probe.restoreGeometry(geo):
        raise CorruptSettings("window/geometry: the saved window geometry does not restore")
    if state is not None and not probe.restoreState(state):
        raise CorruptSettings("window/state: the saved dock layout does not restore")


def _check_speed(value) -> None:
    from app.ui.controller import SPEED_MAX, SPEED_MIN
    if value is None:
        return
    try:
        speed = float(value)
    except (TypeError, ValueError):
        raise CorruptSettings(f"sim/speed: expected a number, got {value!r}") from None
    if not (math.isfinite(speed) and SPEED_MIN <= speed <= SPEED_MAX):
        raise CorruptSettings(f"sim/speed: {speed!r} is outside {SPEED_MIN:g} to {SPEED_MAX:g}")


def check_scenario_json(text) -> None:
    """The saved scenario must parse and name an architecture and workload that exist."""
    from sim_core import SpecError
    from sim_core.spec.loader import preset_ids

    from app.model.scenario import Scenario, check_params
    from app.model.workloads import WORKLOAD_KINDS
    if not isinstance(text, str):
        raise CorruptSettings(f"sim/scenario: expected JSON text, got {type(text).__name__}")
    try:
        d = json.loads(text)
    except ValueError as exc:
        raise CorruptSettings(f"sim/scenario: not JSON ({exc})") from None
    if not isinstance(d, dict):
        raise CorruptSettings("sim/scenario: expected a JSON object")
    allowed = {f.name for f in dataclasses.fields(Scenario)}
    unknown = set(d) - allowed
    if unknown or "name" not in d or "title" not in d:
        raise CorruptSettings(f"sim/scenario: unknown or missing keys {sorted(unknown) or ['name/title']}")
    for key in ("name", "title", "architecture", "workload"):
        if key in d and not isinstance(d[key], str):
            raise CorruptSettings(f"sim/scenario.{key}: expected text, got {d[key]!r}")
    if not isinstance(d.get("params", {}), dict):
        raise CorruptSettings("sim/scenario.params: expected an object")
    arch = d.get("architecture", "dgx-a100")
    if arch not in preset_ids() and not arch.endswith(".toml"):  # a custom file may be gone: _window falls back
        raise CorruptSettings(f"sim/scenario.architecture: unknown architecture {arch!r}")
    if d.get("workload", "collective") not in WORKLOAD_KINDS:
        raise CorruptSettings(f"sim/scenario.workload: unknown workload {d['workload']!r}")
    try:
        check_params("settings", d.get("params", {}), "sim/scenario.params")
    except SpecError as exc:
        raise CorruptSettings(str(exc)) from None
