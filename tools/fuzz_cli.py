"""Fuzz the command line: ``python -m tools.fuzz_cli [--cases N] [--seed S]``.

Random argument lists for every subcommand (valid flags with odd values: negative, zero,
huge, NaN, infinity, words, empty; unknown flags; repeated flags) run in-process. Every
case must end with exit code 0 or 2 and, on error, a single line on stderr: never a
traceback. Values are kept small enough that valid runs finish in a moment.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import time
from collections import Counter

import numpy as np

from sim_core.cli.main import main

ODD = ["-1", "0", "nan", "inf", "-inf", "1e400", "abc", "", "3.5", "0x10", "1e-300", "--", "2x", "x4", "4x4x4x4"]
FLAGS = {
    "noc": {"--k": ["2", "3", "4"], "--traffic": ["uniform", "tornado", "hotspot", "neighbor"], "--rate": ["0.1", "1"],
            "--cycles": ["60", "100"], "--warmup": ["0", "10"], "--hop-cycles": ["1", "3"], "--buffer-flits": ["1", "4"],
            "--packet-flits": ["1", "3"], "--seed": ["1"], "--torus": None, "--rates": ["0.1,0.2", "0.5,x"]},
    "transfer": {"--arch": ["dgx-a100", "tpu-v4", "wafer-wse2", "nope", "/nonexistent.toml"], "--src": ["0", "1"],
                 "--dst": ["1", "3"], "--bytes": ["1", "1e6"], "--nodes": ["1", "2"], "--tiles": ["1x1", "2x2"],
                 "--dims": ["2x2"], "--wafers": ["1", "2"], "--chunk-bytes": ["4096"]},
    "collective": {"--arch": ["dgx-a100", "tpu-v4", "pcie-a100"], "--op": ["allreduce", "broadcast", "alltoall"],
                   "--algo": ["ring", "tree", "auto", "torus"], "--bytes": ["1e3", "1e6"], "--nodes": ["1", "2"],
                   "--dims": ["2x2"]},
    "train": {"--arch": ["dgx-a100", "wafer-wse2", "tpu-v4"], "--model": ["gpt", "resnet50", "bert-large", "nope"],
              "--layers": ["2", "4"], "--hidden": ["256"], "--heads": ["4"], "--seq": ["128"], "--vocab": ["1000"],
              "--batch": ["8", "16"], "--tp": ["1", "2"], "--pp": ["1", "2"], "--nodes": ["1"], "--tokens": ["1e9"],
              "--epochs": ["1"], "--zero": ["0", "1"], "--quiet": None},
    "list": {},
    "validate": {},
}


def random_argv(rng: np.random.Generator) -> list[str]:
    cmds = list(FLAGS)
    if rng.random() < 0.03:
        return [str(rng.choice(["bogus", "", "--nope"]))]
    cmd = cmds[rng.integers(len(cmds) - 1)]  # validate is slow: covered by its own test
    # Short runs by default (random flags after these may still override them): a valid run
    # past saturation for 20,000 cycles is legitimate but takes a minute.
    argv = [cmd] + {"noc": ["--cycles", "300", "--warmup", "30"]}.get(cmd, [])
    flags = FLAGS[cmd]
    names = list(flags)
    for _ in range(int(rng.integers(0, 6))):
        if not names or rng.random() < 0.05:
            argv.append(f"--unknown-{rng.integers(9)}")
            continue
        name = names[rng.integers(len(names))]
        values = flags[name]
        argv.append(name)
        if values is not None:
            argv.append(values[rng.integers(len(values))] if rng.random() < 0.6 else ODD[rng.integers(len(ODD))])
    if rng.random() < 0.7:
        argv.append("--json")
    return argv


def run_one(argv: list[str]) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
    except SystemExit as exc:
        code = exc.code
    except Exception as exc:  # noqa: BLE001 - this is what the fuzzer hunts
        return "crash", f"{type(exc).__name__}: {exc}"
    lines = [ln for ln in err.getvalue().splitlines() if ln.strip()]
    if code == 0:
        return "ok", ""
    errors = [ln for ln in lines if "error" in ln.lower()]
    if code == 2 and len(errors) == 1 and "Traceback" not in err.getvalue():
        return "refused", ""
    return "bad-error", f"exit {code}: {err.getvalue()[-300:]}"


def run(cases: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    counts: Counter = Counter()
    failures = []
    slowest, slowest_argv = 0.0, []
    for _ in range(cases):
        argv = random_argv(rng)
        t0 = time.perf_counter()
        outcome, detail = run_one(argv)
        if time.perf_counter() - t0 > slowest:
            slowest, slowest_argv = time.perf_counter() - t0, argv
        counts[(argv[0], outcome)] += 1
        if outcome in ("crash", "bad-error"):
            failures.append({"argv": argv, "outcome": outcome, "detail": detail})
    by_cmd: dict = {}
    for (cmd, outcome), n in counts.items():
        by_cmd.setdefault(cmd, {})[outcome] = n
    return {"cases": cases, "seed": seed, "slowest_s": round(slowest, 3), "slowest_argv": slowest_argv,
            "by_command": by_cmd, "failures": failures}


def cli(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.fuzz_cli", description=__doc__.splitlines()[0])
    p.add_argument("--cases", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    res = run(args.cases, args.seed)
    res["wall_s"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(res, indent=1))
    return 1 if res["failures"] else 0


if __name__ == "__main__":
    sys.exit(cli())
