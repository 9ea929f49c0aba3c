"""The training model against published training runs: calibration apart from validation.

Calibration cases fit the free parameters of ``sim_core.workloads.training.efficiency``
(the GEMM curve on Megatron-LM's table 1 rows, the CNN share on MLPerf's ResNet-50);
``validate`` lists them with their errors and says they were fitted. Independent cases
were not used by the fit. ``python -m sim_core.validation.training --fit`` reruns the fit
and prints the parameters and the residuals.

Table 1 (Narayanan et al. 2021, arXiv 2104.04473): Selene, DGX A100 80GB, sequence 2048,
vocabulary 51,200, full recomputation, TFLOP/s per GPU counting the recomputation. The
paper names the interleaved schedule but not the chunks per stage or the microbatch:
the cases use 2 chunks a stage where the pipeline has stages, and microbatches of 1.
"""
from __future__ import annotations

import json
import sys

import numpy as np

from sim_core.spec.loader import load_architecture
from sim_core.validation.cases import case
from sim_core.workloads.training import Plan, estimate, fabric_for
from sim_core.workloads.training.efficiency import CNN_SHARE_OF_CEILING, GEMM_KERNEL_S

TOLERANCE = 0.10
GPT = {"id": "gpt", "seq": 2048, "vocab": 51200}
TABLE1 = "Narayanan et al. 2021 (arXiv 2104.04473), table 1, measured on Selene"


def _gpt(params: str, layers: int, hidden: int, heads: int, batch: int) -> dict:
    return {**GPT, "id": f"gpt-{params}", "layers": layers, "hidden": hidden, "heads": heads, "batch": batch}


# (name, model, plan, DGX A100 nodes, measured TFLOP/s per GPU, source)
GEMM_CALIBRATION = [
    ("1.7B, 32 GPUs, tp 1", _gpt("1.7b", 24, 2304, 24, 512), Plan(), 4, 137.0, TABLE1),
    ("18.4B, 256 GPUs, tp 8", _gpt("18.4b", 40, 6144, 48, 1024), Plan(tp=8), 32, 135.0, TABLE1),
    ("145.6B, 1,536 GPUs, tp 8, pp 8", _gpt("145.6b", 80, 12288, 96, 2304), Plan(tp=8, pp=8, virtual_stages=2),
     192, 148.0, TABLE1),
    ("1008B, 3,072 GPUs, tp 8, pp 64", _gpt("1008b", 128, 25600, 160, 3072), Plan(tp=8, pp=64, virtual_stages=2),
     384, 163.0, TABLE1),
]
GPT3_CHECK = ("GPT-3 175B, 1,024 GPUs, tp 8, pp 8", "gpt3-175b", Plan(tp=8, pp=8, virtual_stages=2), 128, 140.0,
              "Narayanan et al. 2021, section 5.1: the GPT-3 175B example (1,024 A100s, batch 1536) at 140 TFLOP/s per GPU")
RESNET = {"base": "resnet50", "batch": 3264}
RESNET_EPOCHS = 35
RESNET_MINUTES = 28.685
RESNET_SOURCE = ("MLPerf Training v2.0, NVIDIA's ResNet-50 result on one DGX A100 (mlcommons/training_results_v2.0): "
                 "28.685 min, batch 3,264, 35 epochs, including evaluation and start-up")
KORTHIKANTI = _gpt("22b", 48, 6144, 64, 4)
KORTHIKANTI_SOURCE = "Korthikanti et al. 2022 (arXiv 2205.05198), table 5: 22B GPT, tp 8 on 8 A100s, batch 4"


def _tflops(row, fit=None, cache=None, fabrics=None) -> float:
    _, model, plan, nodes, _, _ = row
    spec = load_architecture("dgx-a100")
    fab = (fabrics or {}).get(nodes) or fabric_for(spec, nodes=nodes)
    if fabrics is not None:
        fabrics[nodes] = fab
    return estimate(spec, model, plan, fabric=fab, fit=fit, cache=cache)["tflops_per_device"]


def _resnet_minutes(fit=None) -> float:
    r = estimate("dgx-a100", RESNET, Plan(), nodes=1, epochs=RESNET_EPOCHS, fit=fit)
    return r["time_to_train_s"] / 60


def _sse(fit, cache, fabrics) -> tuple[float, np.ndarray]:
    meas = np.array([r[4] for r in GEMM_CALIBRATION])
    sim = np.array([_tflops(r, fit, cache, fabrics) for r in GEMM_CALIBRATION])
    return float(np.sum(np.log(sim / meas) ** 2)), sim / meas - 1


def fit_calibration(progress=None) -> dict:
    """Least squares (on log errors) of the GEMM ceiling and kernel cost on table 1, then
    the CNN share that reproduces MLPerf's ResNet-50 time. Deterministic: for each kernel
    time on a 1 us grid, the best ceiling on a 0.005 grid (the error is unimodal in it)."""
    say = progress or (lambda msg: None)
    cache, fabrics = {}, {}
    best = None
    for kernel_us in range(0, 11):
        lo, hi = 100, 180  # ceiling in units of 0.005
        f = {}

        def err(c):
            if c not in f:
                f[c] = _sse({"ceiling": c * 0.005, "kernel_s": kernel_us * 1e-6}, cache, fabrics)
            return f[c][0]
        while hi - lo > 2:  # ternary search on the integer grid
            a, b = lo + (hi - lo) // 3, hi - (hi - lo) // 3
            if err(a) <= err(b):
                hi = b
            else:
                lo = a
        c = min(range(lo, hi + 1), key=err)
        say(f"kernel {kernel_us} us: ceiling {c * 0.005:.3f}, sum of squared log errors {err(c):.5f}")
        if best is None or err(c) < best[0] - 1e-15:
            best = (err(c), {"ceiling": round(c * 0.005, 3), "kernel_s": kernel_us * 1e-6}, f[c][1])
    _, fit, resid = best
    lo, hi = 0.2, 0.8  # the ResNet time falls as the share rises: bisection
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        if _resnet_minutes({**fit, "cnn_share": mid}) > RESNET_MINUTES:
            lo = mid
        else:
            hi = mid
    return {**fit, "cnn_share": round(0.5 * (lo + hi), 3), "table1_errors": [float(e) for e in resid]}


def training_cases() -> list[dict]:
    rows = []
    for row in GEMM_CALIBRATION:
        rows.append(case(f"calibration (fitted): Megatron-LM {row[0]}, TFLOP/s per GPU", row[4], _tflops(row),
                         tolerance=TOLERANCE, unit="TFLOP/s", source=row[5]))
    rows.append(case("calibration (fitted): ResNet-50 on one DGX A100 to 75.9% top-1, minutes", RESNET_MINUTES,
                     _resnet_minutes(), tolerance=TOLERANCE, unit="min", source=RESNET_SOURCE))
    rows.append(case(f"independent: {GPT3_CHECK[0]}, TFLOP/s per GPU", GPT3_CHECK[4], _tflops(GPT3_CHECK),
                     tolerance=TOLERANCE, unit="TFLOP/s", source=GPT3_CHECK[5]))
    full = estimate("dgx-a100", KORTHIKANTI, Plan(tp=8, microbatch=4), nodes=1)
    sel = estimate("dgx-a100", KORTHIKANTI, Plan(tp=8, microbatch=4, recompute="selective", sequence_parallel=True),
                   nodes=1)
    rows.append(case("independent: 22B GPT, full recomputation, seconds per iteration", 1.42, full["iteration_s"],
                     tolerance=TOLERANCE, source=KORTHIKANTI_SOURCE))
    rows.append(case("independent: 22B GPT, selective recomputation + sequence parallelism, seconds per iteration",
                     1.10, sel["iteration_s"], tolerance=TOLERANCE, source=KORTHIKANTI_SOURCE))
    return rows


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv != ["--fit"]:
        print("usage: python -m sim_core.validation.training --fit", file=sys.stderr)
        return 2
    out = fit_calibration(lambda msg: print(msg, file=sys.stderr, flush=True))
    out["in_use"] = {"ceiling": load_architecture("dgx-a100").chip.compute_efficiency, "kernel_s": GEMM_KERNEL_S,
                     "cnn_share": CNN_SHARE_OF_CEILING}
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
