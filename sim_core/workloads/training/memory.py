"""Bytes per device: weights, gradients, optimizer state and the activations 1F1B keeps.

Weights, gradients and optimizer state follow mixed-precision Adam as the ZeRO paper
counts it (Rajbhandari et al. 2020, arXiv 1910.02054): 2 + 2 + 12 bytes a parameter,
sharded over data parallelism by ZeRO stage (1: optimizer state, 2: + gradients, 3: +
weights). Activations follow Korthikanti et al. 2022 (arXiv 2205.05198, section 4): one
layer of a GPT keeps ``34 s b h + 5 a s^2 b`` bytes, ``10 s b h`` of them replicated by
tensor parallelism and the rest divided by ``t``; sequence parallelism divides the
replicated part by ``t`` too; selective recomputation drops the ``5 a s^2 b`` attention
part; full recomputation keeps only each layer's input. The same tensors are listed
here from the layer's shapes, so a SwiGLU or grouped-query layer, or one without dropout,
is counted by what it really stores. Stage ``k`` of ``p`` holds ``min(p - k, m)``
microbatches in flight under 1F1B; interleaving adds a factor ``1 + (p-1)/(p v)`` on the
first stage (same paper, section 4.2.3).
"""
from __future__ import annotations

from sim_core.errors import SpecError
from sim_core.spec.models import ModelSpec
from sim_core.workloads.training.plan import Plan, stage_layers

BYTES_PER_PARAM = {"weights": 2.0, "grads": 2.0, "optimizer": 12.0}
"""Mixed-precision Adam: fp16 weights and gradients, fp32 master weights, m and v."""


def layer_activation_bytes(model: ModelSpec, plan: Plan) -> float:
    """Bytes one transformer layer keeps for the backward pass, per microbatch, on one TP rank."""
    s, b, h, a, t = model.seq, plan.microbatch, model.hidden, model.heads, plan.tp
    sbh = s * b * h
    mask = 1.0 if model.dropout else 0.0
    if plan.recompute_mode == "full":
        return 2.0 * sbh / (t if plan.sequence_parallel else 1)
    kv = model.kv / model.heads
    # replicated by TP: the two layer-norm inputs, the QKV and MLP inputs, two dropout masks
    replicated = (2 + 2 + 2 + 2 + 2 * mask) * sbh
    # split by TP: Q, K, V, the projection's input, the MLP's intermediate tensors
    mlp = (6.0 if model.mlp == "swiglu" else 4.0) * model.ffn / h
    split = (2 + 2 * kv + 2 * kv + 2 + mlp) * sbh
    # softmax output, its dropout mask and output: recomputed under selective recomputation
    attention = 0.0 if plan.recompute_mode == "selective" else (2 + 3 * mask) * a * s * s * b
    return replicated / (t if plan.sequence_parallel else 1) + (split + attention) / t


def memory_per_device_bytes(model: ModelSpec, plan: Plan, params_local: float | None = None) -> dict:
    """Bytes on the fullest device (the stage that needs most) and which stage that is.

    ``params_local``: parameters on one device if not the plan's share of a transformer
    (the wafer's streaming mode passes one layer). Returns ``weights``, ``grads``,
    ``optimizer``, ``activations``, ``total`` (bytes) and ``stage``.
    """
    best = None
    for stage, params, act in _stages(model, plan, params_local):
        dp, z = plan.dp, plan.zero
        w = params * BYTES_PER_PARAM["weights"] / (dp if z >= 3 else 1)
        g = params * BYTES_PER_PARAM["grads"] / (dp if z >= 2 else 1)
        o = params * BYTES_PER_PARAM["optimizer"] / (dp if z >= 1 else 1)
        mem = {"weights": w, "grads": g, "optimizer": o, "activations": act, "total": w + g + o + act,
               "stage": stage}
        if best is None or mem["total"] > best["total"]:
            best = mem
    return best


def _stages(model, plan, params_local):
    """(stage, parameters, activation bytes) of every pipeline stage."""
    if not model.is_transformer:
        return [(0, params_local if params_local is not None else model.parameters(),
                 model.activation_bytes_per_sample() * plan.microbatch)]
    m = -(-model.batch // (plan.dp * plan.microbatch))
    per_layer = layer_activation_bytes(model, plan)
    chunks = stage_layers(model, plan)
    pp, v = plan.pp, plan.virtual_stages
    out = []
    for k in range(pp):
        layers = sum(chunks[c * pp + k] for c in range(v))
        flight = min(pp - k, m) * (1 + (pp - 1) / (pp * v) if v > 1 and k == 0 else 1)
        act = per_layer * layers * flight
        if plan.recompute_mode == "full":  # the layer being recomputed keeps everything
            act += layer_activation_bytes(model, _with(plan, "selective")) + _attention_bytes(model, plan)
        params = model.layer_parameters() * layers / plan.tp
        if k == 0:
            params += (model.vocab + model.seq) * model.hidden / plan.tp
        if params_local is not None:
            params = params_local
        out.append((k, params, act))
    return out


def _with(plan, recompute):
    from dataclasses import replace
    return replace(plan, recompute=recompute)


def _attention_bytes(model, plan) -> float:
    mask = 1.0 if model.dropout else 0.0
    return (2 + 3 * mask) * model.heads * model.seq ** 2 * plan.microbatch / plan.tp


def check_memory(spec, model, plan, params_local=None, where: str = "per device") -> dict:
    """``memory_per_device_bytes``, or one clear SpecError when it exceeds the chip's memory."""
    mem = memory_per_device_bytes(model, plan, params_local)
    cap = spec.chip.memory_bytes
    if mem["total"] > cap:
        raise SpecError("plan", "memory", f"{mem['total'] / 1e9:.1f} GB",
                        f"{model.id} needs {mem['total'] / 1e9:.1f} GB {where} with this plan but "
                        f"{spec.chip.name} has {cap / 1e9:.1f} GB: {(mem['total'] - cap) / 1e9:.1f} GB too much "
                        f"(raise tp, pp or zero, use selective recomputation and sequence parallelism, "
                        f"or lower the microbatch)")
    return mem
