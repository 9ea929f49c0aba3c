"""Subcommands ``sweep`` (a grid file on Dask) and ``plan`` (the best training split)."""
from __future__ import annotations

import sys

from sim_core.cli.main import count, emit


def register(sub) -> None:
    p = sub.add_parser("sweep", help="run a grid of points (TOML) on a Dask cluster; one row per point")
    p.add_argument("grid", help="grid file (.toml): command, [fixed], [vary], [[points]]")
    p.add_argument("--out", required=True, help="results file, .csv or .parquet (rerun to resume)")
    _cluster_args(p)
    p.add_argument("--batch", type=count(1, 1_000_000), default=200, help="points per write of --out (default 200)")
    p.add_argument("--yes", action="store_true", help="allow more than 100,000 points")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("plan", help="search tp, pp, dp, microbatch, ZeRO and recomputation; rank by iteration time")
    p.add_argument("--arch", default="dgx-a100", help="preset id or path of a TOML architecture file")
    p.add_argument("--nodes", type=count(1, 100_000), help="servers (cluster presets)")
    p.add_argument("--model", default="gpt3-175b", help="a model id or a .toml")
    p.add_argument("--batch", type=count(1, 10_000_000), help="global batch (default: the model's)")
    p.add_argument("--top", type=count(1, 1_000_000), default=10, help="kept plans to list (default 10)")
    _cluster_args(p)
    p.set_defaults(func=cmd_plan)


def _cluster_args(p) -> None:
    p.add_argument("--scheduler", help="tcp://HOST:PORT of a running `dask scheduler` (default: local processes)")
    p.add_argument("--workers", type=count(1, 4096), help="local worker processes (default: one per core)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--quiet", action="store_true", help="no progress line on stderr")


def cmd_sweep(args):
    from sim_core.sweep import driver, store
    from sim_core.sweep.grid import load_grid

    grid = load_grid(args.grid, confirmed=args.yes)
    store.check_path(args.out)
    try:
        run = driver.run_grid(grid, args.out, scheduler=args.scheduler, workers=args.workers,
                              batch_points=args.batch, progress=not args.quiet)
    except KeyboardInterrupt:
        done = len(store.read_rows(args.out))
        print(f"interrupted: {done:,} of {grid.size:,} points are in {args.out}; run the same command to continue",
              file=sys.stderr)
        raise SystemExit(130) from None
    summary = {"out": str(args.out), "command": grid.command, "points": grid.size, "computed": run.computed,
               "skipped": run.skipped, "refused": run.refused, "lost": run.lost, "workers": run.workers,
               "elapsed_s": run.elapsed_s, "points_per_s": run.computed / run.elapsed_s if run.elapsed_s else None}
    if args.json:
        shown = summary
    else:
        rate = f", {summary['points_per_s']:.1f} points/s" if run.computed else ""
        shown = (f"{grid.size:,} points in {args.out}: {run.computed:,} computed now ({run.refused:,} refused by "
                 f"`{grid.command}`), {run.skipped:,} already there; {run.workers} workers, {run.elapsed_s:.1f} s{rate}")
    if run.lost:  # the table is written; exit 1 so a script knows to run again
        emit(shown, args.json)
        print(f"error: {run.lost:,} points lost with their workers; run the same command again to retry them",
              file=sys.stderr)
        raise SystemExit(1)
    return shown


def cmd_plan(args):
    from sim_core.sweep import search_plans
    from sim_core.sweep.plan_search import device_count

    devices = device_count(args.arch, args.nodes)
    plans, run = search_plans(args.arch, args.nodes, args.model, args.batch, scheduler=args.scheduler,
                              workers=args.workers, progress=not args.quiet)
    kept = [p for p in plans if p["kept"]]
    ruled = [p for p in plans if not p["kept"]]
    out = {"arch": args.arch, "nodes": args.nodes, "model": args.model, "batch": args.batch, "devices": devices,
           "searched": len(plans), "kept": len(kept), "ruled_out": len(ruled),
           "plans": kept[:args.top] + ruled, "best": kept[0] if kept else None,
           "ranked_by": "iteration_s of the `train` command (simulated communication, roofline compute)"}
    if not kept:
        print(f"no plan of {args.model} fits {args.arch} ({devices} devices): every one of {len(plans)} was ruled out",
              file=sys.stderr)
    return out if args.json else plan_table(out, args.top)


def plan_table(out: dict, top: int) -> str:
    """The kept plans as a table, then how many were ruled out for which reason."""
    lines = [f"{out['model']} on {out['arch']} ({out['devices']} devices): {out['searched']} plans searched, "
             f"{out['kept']} fit, {out['ruled_out']} ruled out; ranked by {out['ranked_by']}",
             f"{'rank':>4} {'tp':>4} {'pp':>4} {'dp':>6} {'mb':>3} {'zero':>4} {'recompute':>9} "
             f"{'iteration_s':>12} {'TFLOP/s/dev':>11} {'mem GB':>7}"]
    for p in out["plans"][:top]:
        if not p["kept"]:
            break
        lines.append(f"{p['rank']:>4} {p['tp']:>4} {p['pp']:>4} {p['dp']:>6} {p['microbatch']:>3} {p['zero']:>4} "
                     f"{'on' if p['recompute'] else 'off':>9} {p['iteration_s']:>12.5g} "
                     f"{p['tflops_per_device']:>11.1f} {p['memory_per_device_GB']:>7.3g}")
    reasons: dict[str, int] = {}
    for p in out["plans"]:
        if not p["kept"]:
            key = _reason_kind(p["reason"])
            reasons[key] = reasons.get(key, 0) + 1
    for why, n in sorted(reasons.items(), key=lambda kv: -kv[1]):
        lines.append(f"ruled out {n:>5}: {why}")
    if out["best"] is not None:
        lines.append(f"best: {out['best']['reason']}")
    lines.append("(--json lists every plan with all of its outputs and the reason it was kept or ruled out)")
    return "\n".join(lines)


def _reason_kind(reason: str) -> str:
    """``ruled out: plan: field 'memory': value '95 GB': ...`` -> ``field 'memory'``."""
    try:
        field = reason.split("field '", 1)[1].split("'", 1)[0]
    except IndexError:
        return reason[:80]
    return {"memory": "does not fit in memory", "dp": "degrees or replicas do not match the devices and batch",
            "microbatch": "microbatch larger than batch / dp", "pp": "more stages than layers"}.get(field, field)
