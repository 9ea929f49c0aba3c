"""Fuzz the scene-file loader: ``python -m tools.fuzz_scenes [--cases N] [--seed S] [--json]``.

Each case is a random *valid* scene document (random panes, workloads, beats, views and
checks within the schema's ranges) or one built from a shipped scene, written as TOML,
then given one corruption: a value of the wrong type, a missing or unknown key, huge,
negative, NaN or infinite numbers, deep nesting, truncation, invalid UTF-8, an empty file,
binary garbage, or a file path that leaves the scene's folder. Outcomes:

- ``valid`` documents must load (the ``valid`` kind must always load);
- everything else must load or end in exactly one one-line ``SpecError`` naming the file and
  (for a corrupted key) that key's path, beat included (``beats[3].run.for_s``);
- within a second. Anything else (another exception, a hang, a wrong field) is a failure.

Built like ``sim_core.fuzz``; prints the count per corruption and outcome.
"""
from __future__ import annotations

import copy
import math
import sys
import time
from collections import Counter

import numpy as np

from sim_core import SpecError, preset_ids
from sim_core.spec import toml_writer
from sim_core.spec.loader import read_toml
from tools.fuzz_architectures import cli_main

from app.scenes.spec import PARAM_KEYS, parse_scene, shipped_scenes

CORRUPTIONS = ("valid", "shipped", "wrong-type", "missing-key", "unknown-key", "huge-number", "negative-number",
               "nan", "infinity", "deep-nesting", "truncated", "invalid-utf8", "empty", "binary-garbage",
               "path-escape")
STRUCTURED = ("wrong-type", "missing-key", "unknown-key", "huge-number", "negative-number", "nan", "infinity",
              "deep-nesting", "path-escape")
SOURCE = "fuzz-scenes/fuzz.toml"
ESCAPES = ("../../etc/passwd", "../../../../etc/shadow.toml", "/etc/passwd", "/tmp/evil.toml",
           "sub/../../outside.toml", "../fuzz-scenes-sibling/x.toml", "a\x00b.toml", "/etc/hostname")


# ---------------------------------------------------------------------- random valid documents
def _param(rng, kind: str, key: str):
    choices = {
        "pattern": ["uniform", "hotspot", "transpose", "neighbor"], "rate": [0.001, 0.05, 0.3],
        "packet_flits": [1, 4], "src": [0, 1], "dst": [1, 3], "nbytes": [1, 4096, 8e6, 1e11],
        "op": ["allreduce", "allgather"], "algo": ["ring", "auto", "tree"], "channels": [1, 2],
        "params": [1e6, 3.4e8], "tokens_per_device": [1, 2048],
    }[key]
    return choices[int(rng.integers(len(choices)))]


def random_scene(rng: np.random.Generator) -> dict:
    """A random document the schema accepts."""
    from app.model.studies import STUDIES
    presets = preset_ids()
    panes = []
    for _ in range(int(rng.integers(1, 3))):
        kind = str(rng.choice(list(PARAM_KEYS)))
        keys = PARAM_KEYS[kind]
        pane = {"architecture": str(rng.choice(presets)), "workload": kind,
                "params": {k: _param(rng, kind, k) for k in keys if rng.random() < 0.6}}
        if rng.random() < 0.5:
            pane["size"] = int(rng.integers(1, 257))
        if rng.random() < 0.3:
            pane["dims"] = [int(x) for x in rng.integers(1, 9, size=int(rng.integers(1, 4)))]
        if rng.random() < 0.5:
            pane["tiles"] = [int(x) for x in rng.integers(1, 1025, size=2)]
        if rng.random() < 0.5:
            pane["chunk_bytes"] = int(rng.integers(1, 1 << 30))
        if rng.random() < 0.3:
            pane["sim_rate_s"] = float(rng.uniform(0, 10))
        if rng.random() < 0.3:
            pane["label"] = "pane " + "é" * int(rng.integers(0, 5))
        panes.append(pane)
    allowed = sorted({k for p in panes for k in PARAM_KEYS[p["workload"]]})
    beats = []
    for _ in range(int(rng.integers(1, 8))):
        beat = {"text": "Beat *markdown* \"quoted\" \u2192 " + "x" * int(rng.integers(0, 100))}
        if rng.random() < 0.5:
            k = str(rng.choice(allowed))
            beat["set"] = {k: _param(rng, "", k)}
        if rng.random() < 0.6:
            beat["run"] = {"until": str(rng.choice(["time", "round"])), "for_s": float(rng.uniform(0, 100)),
                           "rounds": int(rng.integers(1, 101))}
        if rng.random() < 0.4:
            beat["highlight"] = {"link_kind": "nvlink", "chip": int(rng.integers(0, 64)), "path": [0, 1]}
        if rng.random() < 0.3:
            beat["reveal"] = int(rng.integers(-1, 1001))
        beats.append(beat)
    doc = {"schema_version": 2, "title": "Fuzzed scene", "point": "Random but valid.",
           "order": int(rng.integers(0, 1001)), "study": str(rng.choice(list(STUDIES))), "panes": panes,
           "beats": beats, "view": {"plots": ["utilization"], "chart": str(rng.choice(["bars", "curve", "none"]))}}
    if rng.random() < 0.5:
        doc["check"] = {"value": "x", "at_least": 0.0, "at_most": 1e9, "says": "a claim"}
    if rng.random() < 0.5:
        doc["study_params"] = {"nbytes": 4, "presets": list(presets[:2]), "ks": [4, 8]}
    return doc


# ---------------------------------------------------------------------- TOML out
def scene_to_toml(doc: dict) -> str:
    """One ``key = value`` line per top-level key; tables and arrays of tables written inline."""
    return toml_writer.dumps(doc, inline=True, nonfinite=True)


# ---------------------------------------------------------------------- corruptions
def _paths(node, prefix=()):
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for k, v in items:
        if isinstance(v, dict) or (isinstance(v, list) and v and all(isinstance(x, dict) for x in v)):
            yield prefix + (k,)
            yield from _paths(v, prefix + (k,))
        else:
            yield prefix + (k,)


def field_name(path) -> str:
    """('beats', 3, 'run', 'for_s') -> 'beats[3].run.for_s' (as SpecError fields are written)."""
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _set(doc, path, value, delete=False):
    node = doc
    for k in path[:-1]:
        node = node[k]
    if delete and isinstance(node, dict):
        del node[path[-1]]
    elif delete:
        node.pop(path[-1])
    else:
        node[path[-1]] = value


def _nested(rng, depth: int):
    if rng.random() < 0.5:
        return "[" * depth + "]" * depth
    return "{a = " * depth + "1" + "}" * depth


def corrupt(rng: np.random.Generator, base: dict, kind: str) -> tuple[bytes, str | None]:
    """(file bytes, dotted path of the corrupted key or None) for one case of ``kind``."""
    doc = copy.deepcopy(base)
    # deleting schema_version or a whole pane/beat is not a missing key (other keys then point at it)
    paths = [p for p in _paths(doc) if kind != "missing-key" or (p[-1] != "schema_version" and isinstance(p[-1], str))]
    path = paths[int(rng.integers(len(paths)))]
    if kind == "wrong-type":
        _set(doc, path, [["x"], {"nested": True}, "text", True, 3.5, [1, "a"]][int(rng.integers(6))])
    elif kind == "missing-key":
        _set(doc, path, None, delete=True)
    elif kind == "unknown-key":
        parent = [p for p in [()] + paths if isinstance(_get(doc, p), dict)]
        pick = parent[int(rng.integers(len(parent)))]
        path = pick + (f"bogus_{int(rng.integers(1000))}",)
        _set(doc, path, 1)
    elif kind in ("huge-number", "negative-number", "nan", "infinity"):
        value = {"huge-number": [1e308 * 10, 1e308, 2 ** 70, 2 ** 40][int(rng.integers(4))],
                 "negative-number": -int(rng.integers(1, 1 << 40)) * [1, 1.5][int(rng.integers(2))],
                 "nan": math.nan, "infinity": -math.inf if rng.random() < 0.3 else math.inf}[kind]
        _set(doc, path, value)
    elif kind == "path-escape":
        i = int(rng.integers(len(doc["panes"])))
        path = ("panes", i, "architecture") if rng.random() < 0.7 else ("study_params", "architecture")
        doc.setdefault("study_params", {})
        _set(doc, path, ESCAPES[int(rng.integers(len(ESCAPES)))])
    text = scene_to_toml(doc)
    if kind == "deep-nesting":
        depth = int(rng.integers(50, 5000))
        spot = [p for p in [()] + paths if isinstance(_get(doc, p), dict)]
        path = spot[int(rng.integers(len(spot)))] + ("deep",)
        try:
            _set(doc, path, "@@DEEP@@")
            text = scene_to_toml(doc).replace('"@@DEEP@@"', _nested(rng, depth))
        except (KeyError, IndexError, TypeError):
            text += "deep = " + _nested(rng, depth) + "\n"
            path = ("deep",)
    if kind == "truncated":
        return text.encode()[: int(rng.integers(0, len(text.encode())))], None
    if kind == "invalid-utf8":
        raw = bytearray(text.encode())
        raw[int(rng.integers(len(raw)))] = int(rng.choice([0xFF, 0xC3, 0x80, 0xED]))
        return bytes(raw), None
    if kind == "empty":
        return [b"", b"\n\n  \n", b"# only a comment\n", b"\xef\xbb\xbf"][int(rng.integers(4))], None
    if kind == "binary-garbage":
        return rng.integers(0, 256, size=int(rng.integers(1, 4096)), dtype=np.uint8).tobytes(), None
    return text.encode(), (field_name(path) if kind in STRUCTURED else None)


def _get(doc, path):
    node = doc
    for k in path:
        node = node[k]
    return node


# ---------------------------------------------------------------------- checking
def check_one(data: bytes, field: str | None = None, must_load: bool = False) -> tuple[str, float]:
    """('valid' | 'error' | 'FAIL: ...', seconds) for one file's bytes."""
    t0 = time.perf_counter()
    try:
        parse_scene(read_toml(SOURCE, data), SOURCE)
        outcome = "valid"
    except SpecError as exc:
        msg = str(exc)
        if not msg.startswith(SOURCE + ": field ") or "\n" in msg:
            outcome = f"FAIL: bad message {msg!r}"
        elif must_load:
            outcome = f"FAIL: valid document refused: {msg}"
        elif field is not None and exc.field != "(file)" and not _names_field(exc.field, field):
            outcome = f"FAIL: error names {exc.field!r}, the corruption was at {field!r}: {msg}"
        else:
            outcome = "error"
    except Exception as exc:  # noqa: BLE001 - the fuzzer's whole point
        outcome = f"FAIL: {type(exc).__name__}: {exc}"
    return outcome, time.perf_counter() - t0


def _names_field(reported: str, corrupted: str) -> bool:
    """The error points at the corrupted key, at a key inside it, or at its parent (a missing or
    mistyped table member makes the table itself wrong)."""
    parent = corrupted.rsplit(".", 1)[0] if "." in corrupted else ""
    parent = parent.rsplit("[", 1)[0] if corrupted.endswith("]") and "." not in corrupted else parent
    return (reported == corrupted or reported.startswith((corrupted + ".", corrupted + "["))
            or corrupted.startswith((reported + ".", reported + "[")) or (parent and reported.startswith(parent)))


def run(cases: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    shipped = [read_toml(p) for p in shipped_scenes().values()]
    counts: Counter = Counter()
    failures = []
    slowest = 0.0
    for i in range(cases):
        kind = CORRUPTIONS[i % len(CORRUPTIONS)]
        if kind == "shipped" or (kind != "valid" and rng.random() < 0.3):
            base = shipped[int(rng.integers(len(shipped)))]
        else:
            base = random_scene(rng)
        if kind in ("valid", "shipped"):
            data, field = scene_to_toml(base).encode(), None
        else:
            data, field = corrupt(rng, base, kind)
        outcome, secs = check_one(data, field, must_load=kind in ("valid", "shipped"))
        if kind == "path-escape" and outcome == "valid":
            outcome = "FAIL: a path outside the scene's folder loaded"
        slowest = max(slowest, secs)
        counts[(kind, "fail" if outcome.startswith("FAIL") else outcome)] += 1
        if outcome.startswith("FAIL") or secs > 1.0:
            failures.append({"case": i, "kind": kind, "outcome": outcome, "seconds": round(secs, 3)})
    return {
        "cases": cases, "seed": seed, "slowest_s": round(slowest, 4), "failures": failures,
        "by_corruption": {k: {o: counts[(k, o)] for o in ("valid", "error", "fail") if counts[(k, o)]}
                          for k in CORRUPTIONS},
    }


def main(argv=None) -> int:
    return cli_main("python -m tools.fuzz_scenes", __doc__, run, "scene files", 3000, argv)


if __name__ == "__main__":
    sys.exit(main())
