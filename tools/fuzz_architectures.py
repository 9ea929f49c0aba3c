"""Fuzz the architecture-file loader: ``python -m tools.fuzz_architectures [--cases N] [--seed S] [--json]``.

Starts from every shipped preset and applies one random corruption per case: a value of the
wrong type, a missing or unknown key, huge, negative, zero, NaN or infinite numbers, deep
nesting, truncation, invalid UTF-8, an empty file or binary garbage. Every case must end
either in a valid spec (some mutations are harmless) or in exactly one ``SpecError`` naming
the file, within a second. Anything else (another exception, a hang) is a failure.
Prints the count per corruption and outcome.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import Counter

import numpy as np

from sim_core.errors import SpecError
from sim_core.spec import toml_writer
from sim_core.spec.loader import architecture_to_toml, load_architecture, parse_architecture, preset_ids, read_toml

CORRUPTIONS = ("wrong-type", "missing-key", "unknown-key", "huge-number", "negative-number", "zero", "nan",
               "infinity", "deep-nesting", "truncated", "invalid-utf8", "empty", "binary-garbage", "swap-link-name")
SOURCE = "fuzz.toml"


def _paths(doc: dict, prefix=()):
    for k, v in doc.items():
        if isinstance(v, dict):
            yield from _paths(v, prefix + (k,))
        else:
            yield prefix + (k,)


def _set(doc: dict, path, value, delete=False):
    d = doc
    for k in path[:-1]:
        d = d[k]
    if delete:
        del d[path[-1]]
    else:
        d[path[-1]] = value


def corrupt(rng: np.random.Generator, base: dict, kind: str) -> bytes:
    """One corrupted architecture file (bytes) of the given kind."""
    doc = json.loads(json.dumps(base))
    paths = list(_paths(doc))
    path = paths[rng.integers(len(paths))]
    text_value = None
    if kind == "wrong-type":
        _set(doc, path, [["x"], {"nested": True}, "text", True, 3.5][rng.integers(5)])
    elif kind == "missing-key":
        _set(doc, path, None, delete=True)
    elif kind == "unknown-key":
        _set(doc, path[:-1] + (f"bogus_{rng.integers(1000)}",), 1)
    elif kind in ("huge-number", "negative-number", "zero", "nan", "infinity"):
        value = {"huge-number": 1e308 * float(rng.choice([1, 10])), "negative-number": -float(rng.integers(1, 1 << 40)),
                 "zero": 0, "nan": math.nan, "infinity": -math.inf if rng.random() < 0.3 else math.inf}[kind]
        _set(doc, path, value)
    elif kind == "swap-link-name":
        doc["links"] = {f"l{rng.integers(100)}": v for v in doc["links"].values()}
    text = architecture_to_toml_dict(doc)
    if kind == "deep-nesting":
        depth = int(rng.integers(50, 5000))
        text_value = text + "\ndeep = " + "[" * depth + "]" * depth + "\n"
        return text_value.encode()
    if kind == "truncated":
        return text.encode()[: int(rng.integers(0, len(text)))]
    if kind == "invalid-utf8":
        raw = bytearray(text.encode())
        raw[int(rng.integers(len(raw)))] = 0xFF
        return bytes(raw)
    if kind == "empty":
        return b"" if rng.random() < 0.5 else b"\n\n   \n"
    if kind == "binary-garbage":
        return rng.integers(0, 256, size=int(rng.integers(1, 4096)), dtype=np.uint8).tobytes()
    return text.encode()


def architecture_to_toml_dict(doc: dict) -> str:
    return toml_writer.dumps(doc, nonfinite=True)


def check_one(data: bytes) -> tuple[str, float]:
    """('valid' | 'error' | 'CRASH: ...', seconds) for one file's bytes."""
    t0 = time.perf_counter()
    try:
        parse_architecture(read_toml(SOURCE, data), SOURCE)
        outcome = "valid"
    except SpecError as exc:
        outcome = "error" if SOURCE in str(exc) and "\n" not in str(exc) else f"CRASH: bad message {exc}"
    except Exception as exc:  # noqa: BLE001 - the fuzzer's whole point
        outcome = f"CRASH: {type(exc).__name__}: {exc}"
    return outcome, time.perf_counter() - t0


def run(cases: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    bases = [load_architecture(p).model_dump(mode="json") for p in preset_ids()]
    counts: Counter = Counter()
    crashes = []
    slowest = 0.0
    for i in range(cases):
        kind = CORRUPTIONS[i % len(CORRUPTIONS)]
        data = corrupt(rng, bases[rng.integers(len(bases))], kind)
        outcome, secs = check_one(data)
        slowest = max(slowest, secs)
        counts[(kind, outcome if not outcome.startswith("CRASH") else "crash")] += 1
        if outcome.startswith("CRASH") or secs > 1.0:
            crashes.append({"kind": kind, "outcome": outcome, "seconds": secs})
    return {
        "cases": cases, "seed": seed, "slowest_s": round(slowest, 4), "failures": crashes,
        "by_corruption": {k: {o: counts[(k, o)] for o in ("valid", "error", "crash") if counts[(k, o)]}
                          for k in CORRUPTIONS},
    }


def report(res: dict, what: str) -> str:
    """The text summary both fuzzers print: totals, then outcomes per corruption, then failures."""
    lines = [f"{res['cases']} {what} (seed {res['seed']}) in {res['wall_s']} s; "
             f"slowest case {res['slowest_s'] * 1000:.1f} ms; failures: {len(res['failures'])}"]
    lines += [f"  {k:16s} " + ", ".join(f"{o} {n}" for o, n in v.items()) for k, v in res["by_corruption"].items()]
    lines += [f"  FAILED ({f['kind']}, {f['seconds']} s): {str(f['outcome'])[:300]}" for f in res["failures"][:20]]
    return "\n".join(lines)


def cli_main(prog: str, doc: str, run, what: str, default_cases: int, argv=None) -> int:
    """``--cases N --seed S [--json]`` around a fuzzer's ``run(cases, seed) -> dict``; exit 1 on failures."""
    p = argparse.ArgumentParser(prog=prog, description=doc.splitlines()[0])
    p.add_argument("--cases", type=int, default=default_cases)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    res = run(args.cases, args.seed)
    res["wall_s"] = round(time.perf_counter() - t0, 2)
    print(json.dumps(res) if args.json else report(res, what))
    return 1 if res["failures"] else 0


def main(argv=None) -> int:
    return cli_main("python -m tools.fuzz_architectures", __doc__, run, "corrupted architecture files", 5000, argv)


if __name__ == "__main__":
    sys.exit(main())
