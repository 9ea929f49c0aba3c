"""Kernel A/B: ``python -m benchmarks.kernel_ab [--rev REV] [--repeat N] [CASE ...]``.

Times the compiled event loop of a git revision (default ``HEAD``) against the working
tree's on the same engines, alternating in one process, and prints min and median of N
runs each and whether every result is identical. On a shared machine whose speed drifts
by tens of percent between runs, alternating in one process is what makes a 10% change
visible; separate processes are not comparable.

The revision's ``kernel.py`` and ``heaps.py`` are copied into a temporary directory as
their own modules (``routes.py`` is shared) and compiled there once (about 30 s).

Cases (each an all-reduce, the kernel's time only): on DGX A100 servers ``tree1024`` 17.1 MB
on 1,024 GPUs (the tree a ResNet-50 projection runs), ``ring64`` flat ring 4 GB on 64 GPUs,
``tree128`` 17.1 MB on 128 GPUs, ``auto1024`` 1 GB on 1,024 GPUs (the
default algorithm: a tree, 13 M events), ``ring256`` flat ring 1 GB on 256 GPUs (all trains); ``torus512`` 100 MB on an 8x8x8 TPU v4 torus (every link
busy at once: the fabric heap holds thousands of entries).
"""
from __future__ import annotations

import argparse
import importlib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASES = {  # architecture, its size, bytes, algorithm
    "tree1024": ("dgx-a100", {"nodes": 128}, 17.1e6, "auto"),
    "auto1024": ("dgx-a100", {"nodes": 128}, 1e9, "auto"),
    "ring64": ("dgx-a100", {"nodes": 8}, 4e9, "ring"),
    "ring256": ("dgx-a100", {"nodes": 32}, 1e9, "ring"),
    "tree128": ("dgx-a100", {"nodes": 16}, 17.1e6, "auto"),
    "torus512": ("tpu-v4", {"dims": [8, 8, 8]}, 1e8, "auto"),
}
ROOT = Path(__file__).resolve().parents[1]


def _revision_kernel(rev: str, where: Path):
    """The ``run`` of revision ``rev``'s kernel, importable beside the working tree's."""
    tag = "rev_" + "".join(ch if ch.isalnum() else "_" for ch in rev)
    show = lambda f: subprocess.run(["git", "show", f"{rev}:sim_core/engine/{f}"], cwd=ROOT,  # noqa: E731
                                    capture_output=True, text=True, check=True).stdout
    (where / f"heaps_{tag}.py").write_text(show("heaps.py"))
    kernel = show("kernel.py").replace("from sim_core.engine.heaps import", f"from heaps_{tag} import")
    kernel = kernel.replace("\ncache_guard.check()", "\n# cache_guard.check()")  # its own cache dir
    (where / f"kernel_{tag}.py").write_text(kernel)
    sys.path.insert(0, str(where))
    run = importlib.import_module(f"kernel_{tag}").run
    if run.py_func.__code__.co_argcount == 14:  # before trains: no ``P`` (its engines run chunk by chunk)
        return lambda *args: run(*args[:14])
    if "m_qnext, m_qtime = P\n" in kernel:  # trains before their scratch rows
        return lambda *args: run(*args[:14], args[14][:8])
    return run


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.kernel_ab", description=__doc__.splitlines()[0])
    p.add_argument("cases", nargs="*", choices=sorted(CASES),
                   help="cases to run (default: tree1024 ring64)")
    p.add_argument("--rev", default="HEAD", help="git revision to compare against (default HEAD)")
    p.add_argument("--repeat", type=int, default=7)
    args = p.parse_args(argv)
    args.cases = args.cases or ["tree1024", "ring64"]  # a list default would be checked against choices whole

    import sim_core.engine.kernel as K
    import sim_core.workloads.training.comm as comm
    from sim_core.fabric.build import sized_fabric
    from sim_core.spec.loader import load_architecture

    with tempfile.TemporaryDirectory() as tmp:
        runs = {args.rev: _revision_kernel(args.rev, Path(tmp)), "working tree": K.run}
        real, walls = comm.run_engine, []

        def timed(eng, res):
            t0 = time.perf_counter()
            real(eng, res)
            walls.append(time.perf_counter() - t0)

        comm.run_engine = timed
        try:
            for name in args.cases:
                arch, size, nbytes, algo = CASES[name]
                fab = sized_fabric(load_architecture(arch), source="benchmark", **size)
                ranks = [fab.device_node(d) for d in range(fab.n_chips)]
                got = {k: [] for k in runs}
                results = set()
                for i in range(args.repeat + 1):  # the first round compiles / loads: not timed
                    for tag, fn in runs.items():
                        K.run = fn
                        results.add(comm.simulate_groups(fab, "allreduce", [ranks], nbytes, algo=algo)["time_s"])
                        if i:
                            got[tag].append(walls[-1])
                row = " | ".join(f"{k}: min {min(v):.3f} s, median {statistics.median(v):.3f} s" for k, v in got.items())
                print(f"{name}: {row} | identical results: {len(results) == 1}", flush=True)
        finally:
            K.run, comm.run_engine = runs["working tree"], real
    return 0


if __name__ == "__main__":
    sys.exit(main())
