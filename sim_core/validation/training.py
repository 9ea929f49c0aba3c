"""Validation cases for the training model: closed forms and one published measurement."""
from __future__ import annotations

from sim_core.spec.models import load_model
from sim_core.workloads.training.model import Plan, estimate
from sim_core.validation.cases import case

GPT = {"id": "gpt", "layers": 24, "hidden": 2304, "heads": 24, "seq": 2048, "vocab": 51200, "batch": 512}


def training_cases() -> list[dict]:
    rows = []
    r = estimate("dgx-a100", {**GPT, "batch": 64}, Plan(tp=2, pp=4, free_comm=True), nodes=1)
    b = r["breakdown_s"]
    ideal = r["iteration_s"] - b["pipeline_bubble"] - b.get("optimizer", 0.0)
    m = r["microbatches"]
    rows.append(case(f"pipeline bubble share, 4 stages, {m} micro-batches, free communication", 3 / m,
                     b["pipeline_bubble"] / ideal, unit="share", source="(p-1)/m (Narayanan et al. 2021)"))
    one = estimate("dgx-a100", GPT, Plan(free_comm=True), nodes=1)
    eight = estimate("dgx-a100", GPT, Plan(free_comm=True), nodes=8)
    speedup = (one["iteration_s"] - one["breakdown_s"].get("optimizer", 0.0)) / \
        (eight["iteration_s"] - eight["breakdown_s"].get("optimizer", 0.0))
    rows.append(case("data-parallel speed-up from 8 to 64 GPUs, free communication", 8.0, speedup, unit="x",
                     source="linear scaling when communication is free"))
    tokens = 300e9
    g = estimate("dgx-a100", "gpt3-175b", Plan(tp=8, pp=8), nodes=128, tokens=tokens)
    model = load_model("gpt3-175b")
    X = g["tflops_per_device"] * 1e12
    P = model.parameters()
    terms = 1 + model.seq / (6 * model.hidden) + model.vocab / (16 * model.layers * model.hidden)
    megatron = 8 * tokens * P / (1024 * X) * terms * (12 * model.layers * model.hidden ** 2 / P)
    rows.append(case("GPT-3 175B time to train = 8TP/(nX) with the simulated X fed back", megatron,
                     g["time_to_train_s"], unit="s",
                     source="Narayanan et al. 2021 eq. 4 (with the s/6h and V/16lh terms it drops)"))
    rows.append(case("GPT-3 175B on 1,024 A100s (tp 8, pp 8): TFLOP/s per GPU vs published", 138.0,
                     g["tflops_per_device"], tolerance=0.10, unit="TFLOP/s",
                     source="measured on Selene: 138 TFLOP/s per GPU (Narayanan et al. 2021, table 1)"))
    return rows
