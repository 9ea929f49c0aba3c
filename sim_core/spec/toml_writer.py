"""The one TOML writer: architectures, scenes and test fixtures are written here.

Whatever is written loads back equal with ``tomllib``: every string is escaped (quotes,
backslashes and every control character, ``\\r`` and ``\\x7f`` included) while other
characters, emoji among them, are written as UTF-8 (a JSON-style ``\\ud83d`` surrogate
escape is not valid TOML). Keys that are not bare words are quoted the same way.
"""
from __future__ import annotations

import math
import re

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def string(text: str) -> str:
    """``text`` as a TOML basic string."""
    out = []
    for ch in text:
        if ch in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def key(name: str) -> str:
    """A key, bare when it can be."""
    name = str(name)
    return name if _BARE_KEY.fullmatch(name) else string(name)


def value(v, *, nonfinite: bool = False) -> str:
    """A scalar, an array or an inline table.

    ``nonfinite``: write nan and inf (test fixtures); otherwise they are refused, because
    no Meshscope file accepts them.
    """
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            if not nonfinite:
                raise ValueError(f"{v!r} is not a finite number; Meshscope files hold finite numbers only")
            return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
        return repr(v)
    if isinstance(v, str):
        return string(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(value(x, nonfinite=nonfinite) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{key(k)} = {value(x, nonfinite=nonfinite)}" for k, x in v.items()) + " }"
    raise TypeError(f"no TOML spelling for {type(v).__name__}")


def _is_table_array(v) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def dumps(doc: dict, *, inline: bool = False, nonfinite: bool = False) -> str:
    """The TOML document of ``doc``: plain keys first, then ``[tables]``, then ``[[arrays of tables]]``.

    ``inline``: one ``key = value`` line per top-level key, tables inline (fuzzers build
    documents that way so a corruption stays on one line).
    """
    if inline:
        return "".join(f"{key(k)} = {value(v, nonfinite=nonfinite)}\n" for k, v in doc.items())
    return _table(doc, "", nonfinite)


def _table(doc: dict, prefix: str, nonfinite: bool) -> str:
    lines = [f"{key(k)} = {value(v, nonfinite=nonfinite)}" for k, v in doc.items()
             if not isinstance(v, dict) and not _is_table_array(v)]
    out = "\n".join(lines) + ("\n" if lines else "")
    for k, v in doc.items():
        if isinstance(v, dict):
            name = prefix + key(k)
            out += f"\n[{name}]\n" + _table(v, name + ".", nonfinite)
    for k, v in doc.items():
        if _is_table_array(v):
            name = prefix + key(k)
            for item in v:  # nested tables inside an array item are written inline
                out += f"\n[[{name}]]\n" + "".join(f"{key(kk)} = {value(vv, nonfinite=nonfinite)}\n"
                                                   for kk, vv in item.items())
    return out
