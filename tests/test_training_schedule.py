"""One schedule: what the engine animates is what ``estimate`` times, plus the model's identities.

The identities (pipeline bubble ``(p-1)/(v m)``, linear data-parallel scaling with free
communication, Megatron-LM's ``8TP/(nX)``) are unit tests of the model: they follow
from its definitions and are not counted as validation.
"""
from __future__ import annotations

import numpy as np
import pytest

from sim_core import Engine, build_fabric, load_architecture
from sim_core.spec.models import load_model
from sim_core.workloads.training import Plan, estimate, schedule_counts, schedule_iteration
from sim_core.workloads.training.plan import layout

GPT = {"id": "gpt", "layers": 24, "hidden": 2304, "heads": 24, "seq": 2048, "vocab": 51200, "batch": 512}
TINY = {"id": "tiny", "layers": 4, "hidden": 256, "heads": 4, "seq": 128, "vocab": 1024, "batch": 16}

PLANS = [
    (Plan(tp=2, pp=2, bucket_bytes=1e6), 1),
    (Plan(tp=2, pp=2, zero=1, recompute="selective", sequence_parallel=True, bucket_bytes=1e6), 1),
    (Plan(bucket_bytes=1e6), 2),
    (Plan(tp=2, pp=2, virtual_stages=2), 1),
    (Plan(zero=3), 1),
    (Plan(tp=2, pp=4), 2),
]


def _animated(plan, nodes):
    spec = load_architecture("dgx-a100")
    fab = build_fabric(spec, nodes=nodes, tiles=(1, 1))
    r = estimate(spec, TINY, plan, fabric=fab)
    # every message of this model is at most 8 x 64 KiB: the chunking of estimate's engines
    eng = Engine(fab, chunk_bytes=65536, max_chunks_per_message=8)
    h = schedule_iteration(eng, fab, TINY, plan)
    eng.run_until_idle(dt_s=0.01)
    return spec, r, h, eng


@pytest.mark.parametrize("plan,nodes", PLANS)
def test_the_animated_iteration_runs_the_operations_estimate_counts(plan, nodes):
    spec, r, h, eng = _animated(plan, nodes)
    laid = layout(spec, load_model(TINY), plan, nodes * 8)
    counts = schedule_counts(spec, load_model(TINY), laid, r["microbatches"])
    assert h.counts == counts
    L, m = TINY["layers"], r["microbatches"]
    per_layer = {"full": 6, "selective": 4, "none": 4}[laid.recompute] * (2 if laid.sequence_parallel else 1)
    if laid.tp > 1:  # 2 forward + 2 backward (+ 2 with full recompute) per layer and microbatch
        assert counts["tp_collectives"] == per_layer * L * m * laid.dp
    if laid.zero == 3:  # weights gathered for forward and backward, gradients scattered
        assert counts["zero3_collectives"] == 3 * L * m * laid.tp * laid.pp
    if laid.pp > 1:
        assert counts["pp_sends"] == 2 * m * (laid.pp * laid.virtual_stages - 1) * laid.tp * laid.dp


@pytest.mark.parametrize("plan,nodes", PLANS)
def test_the_animated_iteration_takes_what_estimate_says(plan, nodes):
    # Exact without a pipeline. With one, the animation runs every message at once on one
    # engine, so a pipeline send can share an NVLink port with a TP all-reduce of the
    # next microbatch; estimate times each operation with the groups that run it at once
    # but not against the other operations: 0.3-1.2% slower here, so 2%.
    _, r, h, eng = _animated(plan, nodes)
    t = h.time_s(eng)
    tol = 1e-9 if plan.pp == 1 else 0.02
    assert t == pytest.approx(r["iteration_s"], rel=tol)


def test_animation_is_deterministic():
    _, _, h1, e1 = _animated(Plan(tp=2, pp=2), 1)
    _, _, h2, e2 = _animated(Plan(tp=2, pp=2), 1)
    assert np.array_equal(e1.message_times(h1.message_ids)[1], e2.message_times(h2.message_ids)[1])


@pytest.mark.parametrize("pp,v,batch", [(4, 1, 64), (8, 1, 32), (4, 2, 64), (4, 3, 48)])
def test_model_identity_pipeline_bubble_is_p_minus_1_over_v_m(pp, v, batch):
    # equal stages (no output layer), free communication: the 1F1B closed form
    model = {**GPT, "vocab": 0, "batch": batch, "layers": 24}
    r = estimate("dgx-a100", model, Plan(tp=1, pp=pp, virtual_stages=v, free_comm=True), nodes=1)
    b = r["breakdown_s"]
    ideal = b["compute"]
    assert b["pipeline_bubble"] / ideal == pytest.approx((pp - 1) / (v * r["microbatches"]), rel=1e-9)


def test_model_identity_data_parallel_scaling_is_linear_with_free_comm():
    thr = []
    for nodes in (1, 2, 4, 8):
        r = estimate("dgx-a100", GPT, Plan(free_comm=True), nodes=nodes)
        thr.append(GPT["batch"] / (r["iteration_s"] - r["breakdown_s"].get("optimizer", 0.0)))
    for k, t in enumerate(thr):
        assert t == pytest.approx(thr[0] * 2 ** k, rel=1e-9)


def test_model_identity_megatron_8TP_over_nX():
    tokens = 300e9
    r = estimate("dgx-a100", "gpt3-175b", Plan(tp=8, pp=8), nodes=128, tokens=tokens)
    X = r["tflops_per_device"] * 1e12
    m = load_model("gpt3-175b")
    P = m.parameters()
    megatron = 8 * tokens * P / (1024 * X)
    # 8TP/(nX) drops the s/(6h) and V/(16lh) terms of equation 2: with them, exact
    terms = 1 + m.seq / (6 * m.hidden) + m.vocab / (16 * m.layers * m.hidden)
    assert r["time_to_train_s"] == pytest.approx(megatron * terms * 12 * m.layers * m.hidden ** 2 / P, rel=1e-9)
    assert set(r["breakdown_s"]) >= {"compute", "pipeline_bubble", "comm_nvlink", "comm_infiniband"}
    assert sum(r["breakdown_s"].values()) == pytest.approx(r["iteration_s"])


@pytest.mark.parametrize("wafers", [1, 2])
def test_a_wafer_animates_the_pipeline_estimate_times(wafers):
    # one schedule on a wafer too: stages on regions, activations over the mesh, and
    # gradient buckets between wafers; nothing else runs on the mesh, so it is exact
    from sim_core.workloads.training import fabric_for, iteration_plan
    spec = load_architecture("wafer-wse2")
    fab = fabric_for(spec, wafers=wafers)
    plan = Plan(bucket_bytes=1e6)
    r = estimate(spec, TINY, plan, fabric=fab)
    laid = iteration_plan(fab, TINY, plan)
    assert r["wafer_mode"] == "pipelined" and laid.pp == TINY["layers"] == r["plan"]["pp"]
    eng = Engine(fab, chunk_bytes=65536, max_chunks_per_message=8)
    h = schedule_iteration(eng, fab, TINY, plan)
    eng.run_until_idle(dt_s=0.01)
    assert h.counts == schedule_counts(spec, load_model(TINY), laid, r["microbatches"])
    assert h.counts["pp_sends"] > 0 and (h.counts["dp_collectives"] > 0) == (wafers > 1)
    assert h.time_s(eng) == pytest.approx(r["iteration_s"], rel=1e-9)
    assert r["breakdown_s"]["pipeline_bubble"] > 0 and "comm_noc" in r["breakdown_s"]


@pytest.mark.parametrize("wafers", [1, 2])
def test_weight_streaming_animates_the_chain_estimate_times(wafers):
    # weights in before every layer pass, two layers deep, gradients out after the
    # backward ones; the engine runs the chain whose recurrence estimate evaluates
    from sim_core.workloads.training import fabric_for
    spec = load_architecture("wafer-wse2")
    fab = fabric_for(spec, wafers=wafers)
    plan = Plan(wafer_mode="weight-streaming")
    r = estimate(spec, TINY, plan, fabric=fab)
    assert r["wafer_mode"] == "weight-streaming"
    eng = Engine(fab, chunk_bytes=1, max_chunks_per_message=8)  # estimate's resolution: 8 chunks a message
    h = schedule_iteration(eng, fab, TINY, plan)
    eng.run_until_idle(dt_s=0.01)
    passes = r["microbatches"] * 2 * TINY["layers"]
    assert h.counts["compute_tasks"] == wafers * passes and h.counts["weight_streams"] == wafers * passes * 3 // 2
    assert h.time_s(eng) == pytest.approx(r["iteration_s"], rel=1e-9)
    b = r["breakdown_s"]
    assert sum(b.values()) == pytest.approx(r["iteration_s"], rel=1e-12) and b["comm_wafer-io"] > 0
