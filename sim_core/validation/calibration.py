"""The collectives against published NCCL measurements: the calibration cases and their fit.

The free parameters live in ``sim_core.workloads.collectives.fitted``; everything else is a
sourced input. ``validate`` lists every case here as "calibration (fitted)" with its
measured value, the simulated one and the relative error. ``python -m
sim_core.validation.calibration --fit`` reruns the fit and prints the values to put in
``fitted.py``, then the residuals.

The fit uses the structure of the model rather than a blind search, so it needs few
simulations: bandwidth-bound cases scale with the Simple wire efficiency (one ratio, a
geometric mean); the NVLS latency enters a time once (a linear fit); LL step and launch
latencies add to a small collective's time (a linear least-squares fit of two scales).
"""
from __future__ import annotations

import contextlib
import json
import sys

import numpy as np

from sim_core.fabric.build import build_fabric
from sim_core.spec.loader import load_architecture
from sim_core.validation.cases import case
from sim_core.workloads.collectives import fitted
from sim_core.workloads.collectives.run import run_collective

TOLERANCE = 0.10
NCCL_TESTS_149 = "NVIDIA/nccl-tests#149 and #175 (maintainer): 232.5 GB/s measured, ~77% of NVLink3's 300"
NCCL_1455 = "NVIDIA/nccl#1455; nccl-tests#212"
ML_ENG = ("stas00/ml-engineering, network/benchmarks: 8x H200 SXM (NVLink4 + NVSwitch as H100), nccl-tests "
          "all-reduce; simulated on the dgx-h100 preset, whose links are the same")
NCCL_812 = "NVIDIA/nccl#812 (maintainer): ~192 GB/s, one ring per NIC on DGX A100 nodes"
NDR = "NVIDIA/nccl-tests#290 and #267 (maintainer): 46-49 GB/s per ConnectX-7 NDR NIC"

# (name, preset, servers, ranks, op, algo, bytes, measured busbw GB/s, per NIC?, regime, source)
# regime: which parameter the case pins: "bandwidth", "nvls" or "latency"
CASES = [
    ("8x A100, ring, 4 GiB", "dgx-a100", 1, 8, "ring", 2 ** 32, 230.0, False, "bandwidth", NCCL_TESTS_149),
    ("8x H100, ring, 4 GiB", "dgx-h100", 1, 8, "ring", 2 ** 32, 370.0, False, "bandwidth", NCCL_1455),
    ("4x H100, default (NVLS), 2 GiB", "dgx-h100", 1, 4, "auto", 2 ** 31, 370.0, False, "bandwidth", NCCL_1455),
    ("5x H100, default (NVLS), 2 GiB", "dgx-h100", 1, 5, "auto", 2 ** 31, 420.0, False, "bandwidth", NCCL_1455),
    ("6x H100, default (NVLS), 2 GiB", "dgx-h100", 1, 6, "auto", 2 ** 31, 440.0, False, "bandwidth", NCCL_1455),
    ("7x H100, default (NVLS), 2 GiB", "dgx-h100", 1, 7, "auto", 2 ** 31, 460.0, False, "bandwidth", NCCL_1455),
    ("8x H100, default (NVLS), 2 GiB", "dgx-h100", 1, 8, "auto", 2 ** 31, 480.0, False, "bandwidth", NCCL_1455),
    ("8x H100-class, default, 32 KiB", "dgx-h100", 1, 8, "auto", 2 ** 15, 3.20, False, "latency", ML_ENG),
    ("8x H100-class, default, 1 MiB", "dgx-h100", 1, 8, "auto", 2 ** 20, 72.45, False, "latency", ML_ENG),
    ("8x H100-class, default, 16 MiB", "dgx-h100", 1, 8, "auto", 2 ** 24, 242.45, False, "nvls", ML_ENG),
    ("8x H100-class, default, 64 MiB", "dgx-h100", 1, 8, "auto", 2 ** 26, 369.82, False, "nvls", ML_ENG),
    ("8x H100-class, default, 256 MiB", "dgx-h100", 1, 8, "auto", 2 ** 28, 442.27, False, "nvls", ML_ENG),
    ("8x H100-class, default, 16 GiB", "dgx-h100", 1, 8, "auto", 2 ** 34, 480.70, False, "bandwidth", ML_ENG),
    ("4 DGX A100 nodes (32 GPUs), default, 1 GB", "dgx-a100", 4, 32, "auto", 1e9, 192.0, False, "bandwidth",
     NCCL_812),
    ("2 DGX H100 nodes, ring, 1 GB, busbw per NDR NIC", "dgx-h100", 2, 16, "ring", 1e9, 47.5, True, "bandwidth",
     NDR),
]
NAMES = [c[0] for c in CASES]

NCCL_TESTS_130 = ("NVIDIA/nccl-tests#130 (maintainer): all-to-all busbw ~ per-GPU network bandwidth x N/(N-1) "
                  "on N servers, here with the 47.5 GB/s per NDR NIC measured in NCCL")
# (name, servers, bytes): all-to-all on DGX H100 servers, nothing fitted on it
ALLTOALL = [("2 DGX H100 nodes (16 GPUs), 1 GB", 2, 1e9), ("4 DGX H100 nodes (32 GPUs), 1 GB", 4, 1e9)]
NDR_PER_NIC_GBPS = 47.5


def _fabric(preset: str, servers: int, cache: dict):
    key = (preset, servers)
    if key not in cache:
        cache[key] = build_fabric(load_architecture(preset), nodes=servers, tiles=(1, 1))
    return cache[key]


def simulate(row, cache: dict | None = None) -> dict:
    """Run one case; returns ``run_collective``'s dict with ``value`` (the measured quantity)."""
    name, preset, servers, p, algo, n, _, per_nic, _, _ = row
    fab = _fabric(preset, servers, {} if cache is None else cache)
    out = run_collective(fab, "allreduce", algo, [fab.device_node(d) for d in range(p)], float(n))
    nics = fab.spec.topology.nics_per_node
    out["value"] = out["busbw_GBps"] / nics if per_nic else out["busbw_GBps"]
    return out


def calibration_cases() -> list[dict]:
    """One ``validate`` row per case, with role ``calibration`` (a fitted parameter's case)."""
    rows, cache = [], {}
    for row in CASES:
        r = simulate(row, cache)
        rows.append({**case(f"calibration (fitted): all-reduce {row[0]}, busbw ({r['algo']}/{r['protocol']}, "
                               f"{r['channels']} channels)", row[6], r["value"], tolerance=TOLERANCE, unit="GB/s",
                               source=row[9]), "role": "calibration"})
    return rows


def validation_cases() -> list[dict]:
    """All-to-all across servers against the maintainer's rule (role ``validation``)."""
    rows = []
    for name, servers, n in ALLTOALL:
        fab = build_fabric(load_architecture("dgx-h100"), nodes=servers, tiles=(1, 1))
        r = run_collective(fab, "alltoall", "auto", [fab.device_node(d) for d in range(fab.n_chips)], n)
        expected = NDR_PER_NIC_GBPS * servers / (servers - 1)
        rows.append({**case(f"independent: all-to-all {name}, busbw", expected, r["busbw_GBps"], tolerance=TOLERANCE,
                            unit="GB/s", source=NCCL_TESTS_130), "role": "validation"})
    return rows


@contextlib.contextmanager
def _params(**values):
    """Temporarily set ``fitted`` parameters (the fit's trial values)."""
    old = {k: getattr(fitted, k) for k in values}
    for k, v in values.items():
        setattr(fitted, k, v)
    try:
        yield
    finally:
        for k, v in old.items():
            setattr(fitted, k, v)


def _times(rows, cache) -> np.ndarray:
    return np.array([simulate(r, cache)["time_s"] for r in rows])


def _measured_s(row) -> float:
    """The time the measured busbw implies (busbw = bytes/time x 2(p-1)/p)."""
    _, _, _, p, _, n, value, per_nic, _, _ = row
    busbw = value * (8 if per_nic else 1) * 1e9
    return n * 2 * (p - 1) / p / busbw


def fit() -> dict:
    """Fit the parameters of ``fitted`` on ``CASES``; returns their values."""
    cache = {}
    pick = lambda regime: [r for r in CASES if r[8] == regime]  # noqa: E731
    # 1. wire efficiency: bandwidth-bound times scale as 1/efficiency
    with _params(SIMPLE_WIRE_EFFICIENCY=1.0):
        bw = pick("bandwidth")
        ratio = np.array([_measured_s(r) for r in bw]) / _times(bw, cache)
    eff = float(min(1.0, 1.0 / np.exp(np.mean(np.log(ratio)))))
    # 2. NVLS latency: paid once, so time = t(0) + L
    nv = pick("nvls")
    with _params(SIMPLE_WIRE_EFFICIENCY=eff, NVLS_LATENCY_S=0.0):
        t0 = _times(nv, cache)
    meas = np.array([_measured_s(r) for r in nv])
    w = 1.0 / meas  # relative errors
    nvls_s = float(max(0.0, np.sum(w * w * (meas - t0)) / np.sum(w * w)))
    # 3. step and launch latency scales: time = t00 + s * (t10 - t00) + s_l * (t01 - t00)
    lat = pick("latency")
    with _params(SIMPLE_WIRE_EFFICIENCY=eff, NVLS_LATENCY_S=nvls_s):
        with _params(STEP_LATENCY_SCALE=0.0, LAUNCH_LATENCY_SCALE=0.0):
            t00 = _times(lat, cache)
        with _params(STEP_LATENCY_SCALE=1.0, LAUNCH_LATENCY_SCALE=0.0):
            t10 = _times(lat, cache)
        with _params(STEP_LATENCY_SCALE=0.0, LAUNCH_LATENCY_SCALE=1.0):
            t01 = _times(lat, cache)
    meas = np.array([_measured_s(r) for r in lat])
    A = np.stack([(t10 - t00) / meas, (t01 - t00) / meas], axis=1)
    b = (meas - t00) / meas
    scales = _nonneg_lstsq(A, b)
    return {"SIMPLE_WIRE_EFFICIENCY": round(eff, 4), "NVLS_LATENCY_S": float(f"{nvls_s:.3g}"),
            "STEP_LATENCY_SCALE": round(float(scales[0]), 3), "LAUNCH_LATENCY_SCALE": round(float(scales[1]), 3)}


def _nonneg_lstsq(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Least squares with x >= 0 for two unknowns: the free solution, else the best on an axis."""
    x, *_ = np.linalg.lstsq(A, b, rcond=None)
    if (x >= 0).all():
        return x
    best = None
    for j in range(A.shape[1]):
        col = A[:, j]
        v = max(0.0, float(col @ b / (col @ col))) if col @ col > 0 else 0.0
        cand = np.zeros(A.shape[1])
        cand[j] = v
        res = float(np.sum((A @ cand - b) ** 2))
        if best is None or res < best[0]:
            best = (res, cand)
    return best[1]


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--fit" in argv:
        values = fit()
        print("fitted values (sim_core/workloads/collectives/fitted.py):")
        for k, v in values.items():
            print(f"  {k} = {v!r}")
        with _params(**values):
            rows = calibration_cases() + validation_cases()
    else:
        rows = calibration_cases() + validation_cases()
    errs = np.array([r["error"] for r in rows])
    for r in rows:
        print(f"  {r['name'][:100]:100s} measured {r['expected']:8.2f}  simulated {r['simulated']:8.2f}  "
              f"error {r['error']:+6.1%}")
    print(f"median |error| {np.median(np.abs(errs)):.1%}, max |error| {np.max(np.abs(errs)):.1%}")
    if "--json" in argv:
        print(json.dumps(rows))
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
