"""Compute time from GEMM shapes: an efficiency that rises with the GEMM's size.

A GEMM of ``F`` FLOPs touching ``B`` bytes takes ``max(F / (peak x ceiling), B /
memory bandwidth) + kernel_s``: the chip's large-GEMM ceiling (``chip.compute_efficiency``)
and a fixed cost per kernel (launch, the last partial wave of thread blocks, the
epilogue). Its share of peak, ``F / (t x peak)``, rises with the GEMM's size toward the
ceiling: small GEMMs (attention's scores over short heads) are memory-bound. Around the
GEMMs, the memory-bound kernels (layer norms, softmax, dropout, activations; their bytes
grow with ``h`` while the GEMMs' FLOPs grow with ``h^2``) take a share that falls as the
model widens. Together they are why Megatron-LM's largest models run closest to peak
(Narayanan et al. 2021, arXiv 2104.04473, table 1: 135 TFLOP/s at 18B, 163 at 1T on
the same A100s). Fitted on that table, the kernel cost comes out at zero: the rise in
those rows is explained by the memory-bound parts alone.

The free parameters live here and nowhere else, with what they were fitted on:

* ``GEMM_KERNEL_S`` and the A100 ceiling (``compute_efficiency`` in the ``dgx-a100``
  preset): least squares on table 1's 1.7B, 18.4B, 145.6B and 1008B rows;
  ``python -m sim_core.validation.training --fit`` reproduces both.
* ``CNN_SHARE_OF_CEILING``: ResNet-50's convolutions, batch norms and small channels
  reach a lower share of peak than a transformer's GEMMs; fitted on MLPerf Training
  v2.0's ResNet-50 on one DGX A100 (28.685 min, batch 3,264, 35 epochs, NVIDIA's result
  log in mlcommons/training_results_v2.0), whose time includes evaluation and start-up.
"""
from __future__ import annotations

import numpy as np

GEMM_KERNEL_S = 0.0
"""Fixed seconds per GEMM kernel (fitted; see the module docstring)."""

CNN_SHARE_OF_CEILING = 0.402
"""A CNN's achieved share of peak as a share of the chip's GEMM ceiling (fitted)."""

BYTES_PER_ELEMENT = 2.0
"""fp16/bf16 operands."""


def gemm_time_s(chip, M, N, K, *, kernel_s: float = GEMM_KERNEL_S, ceiling: float | None = None):
    """Seconds of GEMMs ``(M x K) @ (K x N)`` on one chip; arrays broadcast (float64).

    ``ceiling`` defaults to ``chip.compute_efficiency``.
    """
    M, N, K = (np.asarray(x, dtype=np.float64) for x in (M, N, K))
    ceiling = chip.compute_efficiency if ceiling is None else ceiling
    flops = 2.0 * M * N * K
    t_flop = flops / (chip.peak_flops * ceiling)
    t_mem = BYTES_PER_ELEMENT * (M * K + K * N + M * N) / chip.memory_bandwidth_Bps
    return np.maximum(t_flop, t_mem) + kernel_s


def gemm_efficiency(chip, flops: float, *, kernel_s: float = GEMM_KERNEL_S, ceiling: float | None = None) -> float:
    """Share of peak of a square GEMM of ``flops`` FLOPs (the curve, for plots and tests)."""
    n = (flops / 2.0) ** (1 / 3)
    return float(flops / (gemm_time_s(chip, n, n, n, kernel_s=kernel_s, ceiling=ceiling) * chip.peak_flops))


def elementwise_bytes(model, tokens: float, tp: int, sequence_parallel: bool = False) -> dict:
    """Bytes the non-GEMM kernels of one layer's forward write on one TP rank, by block.

    Layer norms, softmax, dropout, the activation function and residual adds are
    memory-bound: their outputs are the activations Korthikanti et al. 2022 count
    (arXiv 2205.05198, section 4.1). Per block, replicated over TP unless sequence
    parallel: the layer norm's output, the dropout mask and the residual sum (``5 s b h``
    with dropout); split by TP: attention's softmax and dropout (``5 a s^2 b``) and the
    MLP's activation output (``2 f s b``, twice that for SwiGLU's product).
    """
    sbh = tokens * model.hidden
    mask = 1.0 if model.dropout else 0.0
    rep = (2 + mask + 2) * sbh / (tp if sequence_parallel else 1)
    softmax = (2 + 3 * mask) * model.heads * model.seq * tokens / tp
    act = (4.0 if model.mlp == "swiglu" else 2.0) * model.ffn * tokens / tp
    return {"attention": rep + softmax, "mlp": rep + act, "softmax": softmax}


def layer_pass_s(chip, model, tokens: float, tp: int, *, sequence_parallel: bool = False,
                 fit: dict | None = None) -> dict:
    """Seconds of one layer on one TP rank, by block: ``attention`` (QKV, scores, values,
    projection) and ``mlp``, each ``(forward, backward)``; backward runs two GEMMs (input
    and weight gradients) of the forward's FLOPs for each forward GEMM. Non-GEMM kernels
    write ``elementwise_bytes`` and read them back (twice the bytes at memory bandwidth;
    the backward moves twice the forward's). Also ``core_attention``: the forward part
    selective recomputation re-runs. ``fit`` overrides ``kernel_s`` / ``ceiling``."""
    g = model.layer_gemms(tokens, tp)
    M, N, K = (np.array([x[i] for x in g]) for i in (1, 2, 3))
    kw = fit or {}
    fwd = gemm_time_s(chip, M, N, K, **kw)
    bwd = gemm_time_s(chip, M, K, N, **kw) + gemm_time_s(chip, K, N, M, **kw)  # dX = dY W^T, dW = X^T dY
    names = [x[0] for x in g]
    attn = np.array([n in ("qkv", "scores", "values", "proj") for n in names])
    core = np.array([n in ("scores", "values") for n in names])
    ew = {k: 2.0 * v / chip.memory_bandwidth_Bps for k, v in
          elementwise_bytes(model, tokens, tp, sequence_parallel).items()}
    return {"attention": (float(fwd[attn].sum()) + ew["attention"], float(bwd[attn].sum()) + 2 * ew["attention"]),
            "mlp": (float(fwd[~attn].sum()) + ew["mlp"], float(bwd[~attn].sum()) + 2 * ew["mlp"]),
            "core_attention": float(fwd[core].sum()) + ew["softmax"]}


def output_layer_s(chip, model, tokens: float, tp: int, *, fit: dict | None = None) -> dict:
    """The output layer (logits over the vocabulary, split over TP), forward and backward."""
    h, V = model.hidden, model.vocab / tp
    if V <= 0:
        return {"forward": 0.0, "backward": 0.0}
    f = float(gemm_time_s(chip, tokens, V, h, **(fit or {})))
    b = float(gemm_time_s(chip, tokens, h, V, **(fit or {})) + gemm_time_s(chip, h, V, tokens, **(fit or {})))
    return {"forward": f, "backward": b}


def cnn_pass_s(chip, model, samples: float, *, share: float = CNN_SHARE_OF_CEILING,
               ceiling: float | None = None) -> dict:
    """A CNN's forward and backward seconds for ``samples`` samples on one chip."""
    rate = chip.peak_flops * (chip.compute_efficiency if ceiling is None else ceiling) * share
    f = model.forward_flops * samples / rate
    return {"forward": f, "backward": 2.0 * f}


def wafer_stage_s(chip, model, samples: float, recompute: str, stages: int) -> tuple[float, float]:
    """One microbatch's (forward, backward) seconds on one of ``stages`` equal regions of a
    wafer that pipelines the model's layers: a roofline, the larger of the region's share of
    the FLOPs at its share of peak x the preset's efficiency and its share of the fp16
    weights read four times (forward, recomputed forward, two backward GEMMs) at its share
    of the SRAM bandwidth. A wafer has no GEMM kernels to fit, so no GEMM-size curve.
    The backward gets the FLOPs the forward does not (recomputation included)."""
    total = model.flops_per_iteration(samples, recompute)
    fwd = model.flops_per_iteration(samples, "none") / 3.0
    t_flop = total / (chip.peak_flops * chip.compute_efficiency)
    t_mem = 4 * BYTES_PER_ELEMENT * model.parameters() / chip.memory_bandwidth_Bps
    t = max(t_flop, t_mem)  # the whole model on the whole wafer = one stage on its region
    return t * fwd / total, t * (total - fwd) / total
