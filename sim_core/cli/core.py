"""Subcommands ``list``, ``noc``, ``validate`` and ``transfer``."""
from __future__ import annotations

import argparse

import numpy as np

from sim_core.cli.main import count, positive_float
from sim_core.engine.core import Engine, run_in_steps
from sim_core.errors import SpecError
from sim_core.spec.loader import load_architecture, preset_ids
from sim_core.workloads.noc import run_noc
from sim_core.spec.schema import LINK_KINDS
from sim_core.fabric.build import sized_fabric
from sim_core.workloads.traffic import PATTERNS


def register(sub) -> None:
    p = sub.add_parser("list", help="presets and traffic patterns")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("noc", help="synthetic traffic on one k x k mesh or torus")
    p.add_argument("--k", type=count(2, 1024), default=8)
    p.add_argument("--traffic", choices=sorted(PATTERNS), default="uniform")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--rate", type=_rate, default=0.1, help="offered flits/node/cycle")
    g.add_argument("--rates", type=_rates, help="comma-separated sweep, prints a list")
    p.add_argument("--packet-flits", type=count(1, 1024), default=1)
    p.add_argument("--hop-cycles", type=count(1, 1000), default=1)
    p.add_argument("--buffer-flits", type=count(1, 4096), default=8)
    p.add_argument("--cycles", type=count(2, 100_000_000), default=20000)
    p.add_argument("--warmup", type=count(0, 100_000_000), default=2000)
    p.add_argument("--seed", type=count(0, 2**63 - 1), default=1)
    p.add_argument("--torus", action="store_true")
    p.add_argument("--hotspot-fraction", type=_share, default=0.2)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_noc)

    _register_validate(sub)

    p = sub.add_parser("transfer", help="one tensor from one device (or node id) to another")
    add_arch_args(p)
    p.add_argument("--src", type=count(0, 10**9), default=0, help="source device (chip) number")
    p.add_argument("--dst", type=count(0, 10**9), default=1, help="destination device (chip) number")
    p.add_argument("--bytes", type=positive_float, default=1e9)
    add_engine_args(p, default_chunk=1 << 20)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_transfer)


def chunk_bytes_arg(text: str) -> int:
    """argparse type: a whole number of bytes >= 1 (accepts 1e6 notation)."""
    v = positive_float(text)
    if v != int(v) or v > 1 << 40:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a whole number of bytes, 1 to 2^40")
    return int(v)


def add_engine_args(p, default_chunk: int | None = None) -> None:
    """``--dt`` (the engine step) and ``--chunk-bytes`` (the engine's chunk size)."""
    p.add_argument("--dt", type=positive_float, default=None, metavar="SECONDS",
                   help="engine step; results are the same for every step (default: event to event)")
    p.add_argument("--chunk-bytes", type=chunk_bytes_arg, default=default_chunk, metavar="N",
                   help="chunk size in bytes (a resolution knob)" + (f" (default {default_chunk})" if default_chunk else ""))


def _register_validate(sub) -> None:
    p = sub.add_parser("validate", help="every closed-form check: expected, simulated, relative error")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--json", action="store_true")
    g.add_argument("--markdown", action="store_true", help="a Markdown table (the user guide's)")
    p.set_defaults(func=cmd_validate)


def cmd_validate(args):
    import sys

    from sim_core.validation.cases import all_cases

    rows = all_cases(progress=lambda msg: print(msg, file=sys.stderr, flush=True))
    if args.json:
        return {"cases": rows, "passed": sum(r["ok"] for r in rows), "failed": sum(not r["ok"] for r in rows)}
    if args.markdown:
        out = ["| case | expected | simulated | error | checked against |", "|---|---|---|---|---|"]
        for r in rows:
            rel = f"{r['error']:+.1e}" if r["kind"] == "equal" else f"{r['simulated'] / r['expected']:.0%} of the bound"
            out.append(f"| {r['name']} | {r['expected']:.6g} {r['unit']} | {r['simulated']:.6g} {r['unit']} | {rel} "
                       f"| {r['source']} |")
        ok = sum(r["ok"] for r in rows)
        out.append(f"\n{ok} of {len(rows)} cases agree within their tolerance (2% unless stated; transfers 1e-9).")
        return "\n".join(out)
    lines = [f"{'case':78s} {'expected':>12s} {'simulated':>12s} {'error':>10s}"]
    for r in rows:
        mark = "" if r["ok"] else "  <-- FAILS"
        lines.append(f"{r['name'][:78]:78s} {r['expected']:12.6g} {r['simulated']:12.6g} {r['error']:+10.2e} "
                     f"{r['unit']}{mark}")
    ok = sum(r["ok"] for r in rows)
    lines.append(f"{ok} of {len(rows)} cases agree ({len(rows) - ok} do not)")
    return "\n".join(lines)


def add_arch_args(p) -> None:
    """``--arch`` (preset id or TOML path) and the size knobs shared by every subcommand."""
    p.add_argument("--arch", default="dgx-a100", help="preset id or path of a TOML architecture file")
    p.add_argument("--nodes", type=count(1, 100_000), help="servers (cluster presets)")
    p.add_argument("--dims", type=_dims, help="torus dims, e.g. 4x4x4 (torus presets)")
    p.add_argument("--wafers", type=count(1, 1024), help="wafers (wafer presets)")
    p.add_argument("--tiles", type=_dims, help="mesh resolution per chip, e.g. 4x8")


def size_from_args(args) -> dict:
    """``nodes``, ``dims``, ``wafers`` and ``tiles`` as given (None where not), ``tiles`` checked."""
    tiles = getattr(args, "tiles", None)
    if tiles is not None and len(tiles) != 2:
        raise SpecError("--tiles", "tiles", tiles, "ROWSxCOLS, e.g. 4x8")
    return {"nodes": getattr(args, "nodes", None), "dims": getattr(args, "dims", None),
            "wafers": getattr(args, "wafers", None), "tiles": tiles}


def fabric_from_args(args):
    spec = load_architecture(args.arch)
    return spec, sized_fabric(spec, **size_from_args(args), source="command line")


def _rate(text: str) -> float:
    v = float(text)
    if not 0 <= v <= 1:
        raise ValueError
    return v


_rate.__name__ = "rate (0 to 1 flits/node/cycle)"


def _share(text: str) -> float:
    return _rate(text)


_share.__name__ = "share (0 to 1)"


def _rates(text: str) -> list[float]:
    return [_rate(t) for t in text.split(",") if t.strip()]


_rates.__name__ = "comma-separated rates (0 to 1)"


def _dims(text: str) -> list[int]:
    parts = [int(t) for t in text.lower().split("x")]
    if not parts or any(p < 1 for p in parts):
        raise ValueError
    return parts


_dims.__name__ = "dimensions like 4x4x4"


def cmd_list(args):
    out = {"presets": [], "traffic_patterns": [{"id": k, "description": v} for k, v in PATTERNS.items()],
           "link_kinds": list(LINK_KINDS)}
    for pid in preset_ids():
        s = load_architecture(pid)
        out["presets"].append({"id": s.id, "name": s.name, "description": " ".join(s.description.split()),
                               "chips": s.chip_count, "topology": s.topology.kind, "chip": s.chip.name,
                               "sources": dict(s.sources)})
    return out


def cmd_noc(args):
    if args.warmup >= args.cycles:
        raise SpecError("--warmup", "warmup", args.warmup, f"fewer cycles than --cycles ({args.cycles})")
    import sys

    rates = args.rates if args.rates is not None else [args.rate]

    def progress(done, total):
        print(f"noc k={args.k}: cycle {done:,} of {total:,} ({done / total:.0%})", file=sys.stderr, flush=True)

    results = [run_noc(args.k, args.traffic, r, packet_flits=args.packet_flits, hop_cycles=args.hop_cycles,
                       buffer_flits=args.buffer_flits, cycles=args.cycles, warmup=args.warmup, seed=args.seed,
                       torus=args.torus, hotspot_fraction=args.hotspot_fraction, progress=progress) for r in rates]
    return results if args.rates is not None else results[0]


def cmd_transfer(args):
    spec, fab = fabric_from_args(args)
    for name in ("src", "dst"):
        d = getattr(args, name)
        if d >= fab.n_chips:
            raise SpecError(f"--{name}", name, d, f"a device number 0..{fab.n_chips - 1} ({spec.id} at this size)")
    eng = Engine(fab, chunk_bytes=int(args.chunk_bytes))
    a, b = fab.device_node(args.src), fab.device_node(args.dst)
    path = eng.router.path(a, b)
    mid = eng.send(a, b, args.bytes)
    if args.dt:
        run_in_steps(eng, args.dt)
    else:
        eng.run_until_idle()
    rel, fin = eng.message_times([mid])
    time_s = float(fin[0] - rel[0]) if args.src != args.dst else 0.0
    kinds = [LINK_KINDS[fab.link_kind[l]] for l in path]
    bw = fab.link_bandwidth_Bps[path] if path else np.array([np.inf])
    slowest = int(np.argmin(bw)) if path else -1
    return {
        "arch": spec.id, "src": args.src, "dst": args.dst, "bytes": args.bytes,
        "time_s": time_s,
        "bandwidth_GBps": (args.bytes / time_s / 1e9) if time_s > 0 else None,
        "path_link_kinds": kinds,
        "path": [fab.link_label(l) for l in path],
        "hops": len(path),
        "latency_s": float(fab.link_latency_s[path].sum()) if path else 0.0,
        "bottleneck_link_kind": kinds[slowest] if path else None,
        "bottleneck_link": fab.link_label(path[slowest]) if path else None,
        "bottleneck_bandwidth_GBps": float(bw[slowest] / 1e9) if path else None,
        "chunk_bytes": int(eng.message_chunk_bytes(int(args.bytes))),
        "engine_policy": eng.policy, "dt_s": args.dt,
    }
