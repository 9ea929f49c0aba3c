"""Training-time model: the zoo's shapes, memory, plans, comparisons and bad input."""
from __future__ import annotations

import pytest

from sim_core import load_architecture
from sim_core.errors import SpecError
from sim_core.spec.models import load_model, model_ids
from sim_core.workloads.training import Plan, compare, estimate, scaling
from sim_core.workloads.training.efficiency import gemm_efficiency
from sim_core.workloads.training.memory import layer_activation_bytes
from sim_core.workloads.training.plan import layout, stage_layers

GPT = {"id": "gpt", "layers": 24, "hidden": 2304, "heads": 24, "seq": 2048, "vocab": 51200, "batch": 512}


def test_zoo_has_the_named_presets_with_sources():
    assert {"gpt3-175b", "gpt-1t", "resnet50", "bert-large", "llama2-70b", "llama3-405b"} <= set(model_ids())
    for mid in model_ids():
        m = load_model(mid)
        assert m.source and m.parameters() > 0 and m.flops_per_iteration() > 0
    assert load_model("gpt3-175b").parameters() == pytest.approx(175e9, rel=0.01)
    assert load_model("gpt-1t").parameters() == pytest.approx(1.0e12, rel=0.02)
    assert load_model("resnet50").flops_per_iteration(1) == pytest.approx(3 * 8.18e9)


@pytest.mark.parametrize("mid", ["gpt3-175b", "gpt-1t", "bert-large"])
def test_gpt_shapes_count_exactly_megatrons_closed_forms(mid):
    m = load_model(mid)
    l, h, V, s = m.layers, m.hidden, m.vocab, m.seq
    assert m.parameters() == pytest.approx(12 * l * h * h * (1 + 13 / (12 * h) + (V + s) / (12 * l * h)), rel=1e-12)
    assert m.flops_per_iteration() == pytest.approx(96 * m.batch * s * l * h * h * (1 + s / (6 * h) + V / (16 * l * h)),
                                                    rel=1e-12)


def test_llama_shapes_swiglu_and_grouped_query_attention():
    m = load_model("llama3-405b")
    h, f, kv = 16384, 53248, 8 * 128
    per_layer = h * (h + 2 * kv) + h * h + 3 * h * f  # Q, K, V, output; gate, up, down
    assert m.layer_parameters() == pytest.approx(per_layer, rel=1e-3)
    assert m.parameters() == pytest.approx(404e9, rel=0.01)
    assert load_model("llama2-70b").parameters() == pytest.approx(69e9, rel=0.01)
    assert m.flops_per_iteration(recompute="selective") > m.flops_per_iteration(recompute="none")
    assert m.flops_per_iteration(recompute="full") > m.flops_per_iteration(recompute="selective")


@pytest.mark.parametrize("t", [1, 2, 8])
def test_activations_per_layer_are_korthikantis(t):
    m = load_model({"id": "g", "layers": 4, "hidden": 6144, "heads": 64, "seq": 2048, "vocab": 0, "batch": 8})
    s, b, h, a = 2048, 2, 6144, 64
    plan = Plan(tp=t, microbatch=b, recompute="none")
    sbh = s * b * h
    assert layer_activation_bytes(m, plan) == pytest.approx(sbh * (10 + 24 / t + 5 * a * s / (h * t)), rel=1e-12)
    sp = Plan(tp=t, microbatch=b, recompute="none", sequence_parallel=True)
    assert layer_activation_bytes(m, sp) == pytest.approx(sbh / t * (34 + 5 * a * s / h), rel=1e-12)
    sel = Plan(tp=t, microbatch=b, recompute="selective", sequence_parallel=True)
    assert layer_activation_bytes(m, sel) == pytest.approx(34 * sbh / t, rel=1e-12)
    assert layer_activation_bytes(m, Plan(tp=t, microbatch=b)) == pytest.approx(2 * sbh, rel=1e-12)


def test_llama3_405b_on_8192_h100s_fits_with_what_it_really_used():
    plan = Plan(tp=8, pp=16, zero=1, recompute="selective", sequence_parallel=True)
    r = estimate("dgx-h100", "llama3-405b", plan, nodes=1024)
    assert 60 < r["memory_per_device_GB"] <= 80
    assert r["plan"]["recompute"] == "selective" and r["devices"] == 8192
    assert {"tp_ag", "tp_rs", "dp_grad:0", "dp_param:0", "pp"} <= set(r["simulated"])
    # the 126 layers over 16 stages: the first and last stage hold 7, the others 8
    assert stage_layers(load_model("llama3-405b"), plan) == [7] + [8] * 14 + [7]


def test_a_plan_that_does_not_fit_is_refused_with_the_amount():
    with pytest.raises(SpecError, match=r"needs 9\d\.\d GB per device .* too much"):
        estimate("dgx-h100", {"id": "gpt405", "layers": 126, "hidden": 16384, "heads": 128, "seq": 8192,
                              "vocab": 128256, "batch": 2048}, Plan(tp=8, pp=16), nodes=1024)


def test_zero_shards_state_and_zero3_gathers_every_layer():
    m0 = estimate("dgx-a100", GPT, Plan(zero=0), nodes=1)
    m3 = estimate("dgx-a100", GPT, Plan(zero=3), nodes=1)
    assert m3["memory_detail_GB"]["weights"] == pytest.approx(m0["memory_detail_GB"]["weights"] / 8)
    assert {"z3_ag", "z3_rs"} <= set(m3["simulated"]) and "dp_grad:0" not in m3["simulated"]
    assert m3["iteration_s"] > m0["iteration_s"]


def test_gemm_efficiency_rises_with_size_toward_the_ceiling():
    chip = load_architecture("dgx-a100").chip
    eff = [gemm_efficiency(chip, f) for f in (1e6, 1e8, 1e10, 1e12)]
    assert eff == sorted(eff) and eff[-1] == pytest.approx(chip.compute_efficiency, rel=0.01)


def test_bigger_models_run_closer_to_peak():
    r = [estimate("dgx-a100", {**GPT, "layers": 8, "hidden": h, "heads": h // 128, "batch": 64}, Plan(tp=8, free_comm=True),
                  nodes=1)["share_of_peak"] for h in (1024, 4096, 12288)]
    assert r == sorted(r)


def test_pcie_server_trains_slower_than_nvlink_at_equal_chips():
    plan = Plan(tp=8)
    nv = estimate("dgx-a100", GPT, plan, nodes=2)
    pc = estimate("pcie-a100", {**GPT}, plan, nodes=2)
    assert pc["iteration_s"] > nv["iteration_s"]


def test_more_chips_stop_helping_once_communication_dominates():
    # BERT-large, pure data parallel on DGX A100: past the point where exposed
    # communication exceeds compute, doubling the chips buys far less than 2x.
    rows = [estimate("dgx-a100", "bert-large", Plan(), nodes=n) for n in (1, 2, 4, 8, 16, 32)]
    comm = [sum(v for k, v in r["breakdown_s"].items() if k.startswith("comm_")) for r in rows]
    comp = [r["breakdown_s"]["compute"] for r in rows]
    cross = next(i for i in range(len(rows)) if comm[i] > comp[i])
    assert cross >= 1
    for a, b in zip(rows[cross:], rows[cross + 1:]):
        assert a["iteration_s"] / b["iteration_s"] < 1.5


def test_wafer_modes_and_memory():
    r = estimate("wafer-wse2", "gpt3-175b", Plan())
    assert r["wafer_mode"] == "weight-streaming" and r["memory_per_device_GB"] <= 40
    r = estimate("wafer-wse2", "bert-large", Plan())
    assert r["wafer_mode"] == "pipelined" and "comm_noc" in r["breakdown_s"]
    with pytest.raises(SpecError, match="too much"):
        estimate("wafer-wse2", "gpt3-175b", Plan(wafer_mode="pipelined"))


@pytest.mark.parametrize("plan,kw,match", [
    (Plan(tp=3), {"nodes": 1}, "must equal"),
    (Plan(tp=8, pp=2, dp=3), {"nodes": 4}, "must equal"),
    (Plan(), {"nodes": 1}, "too much"),
    (Plan(), {"nodes": 0}, "at least 1"),
    (Plan(recompute="sometimes"), {"nodes": 1}, "full, selective or none"),
    (Plan(virtual_stages=2), {"nodes": 1}, "unless pp > 1"),
    (Plan(pp=8, virtual_stages=2, microbatch=1), {"nodes": 1}, "multiple of pp"),
])
def test_bad_plans_are_one_clear_error(plan, kw, match):
    model = "gpt3-175b" if match == "too much" else ({**GPT, "batch": 12} if "multiple" in match else GPT)
    with pytest.raises(SpecError, match=match):
        estimate("dgx-a100", model, plan, **kw)


def test_bad_model_fields_are_errors():
    with pytest.raises(SpecError, match="layers"):
        load_model({**GPT, "layers": -2})
    with pytest.raises(SpecError, match="mlp"):
        load_model({**GPT, "mlp": "relu"})
    with pytest.raises(SpecError):
        load_model("no-such-model")


def test_time_to_train_and_energy():
    r = estimate("dgx-a100", "resnet50", Plan(), nodes=2, epochs=90)
    iters = 90 * 1.28e6 / 1024
    assert r["time_to_train_s"] == pytest.approx(iters * r["iteration_s"])
    assert r["energy_J"] == pytest.approx(r["time_to_train_s"] * 16 * 400)
    assert r["plan"]["microbatch"] == 1024 // 16  # a CNN takes its whole share of the batch at once


def test_compare_rows_at_equal_power():
    rows = compare(GPT, presets=["dgx-a100", "wafer-wse2", "tpu-v4"], power_W=40e3, tokens=1e9)
    assert [r["arch"] for r in rows] == ["dgx-a100", "wafer-wse2", "tpu-v4"]
    for r in rows:
        assert "equal chip power" in r["basis"]
        assert r.get("time_to_train_s", 0) > 0, r


def test_scaling_rows():
    rows = scaling("dgx-a100", "bert-large", [8, 16, 32])
    assert rows[0]["efficiency"] == 1.0 and all(r["iteration_s"] > 0 for r in rows)


def test_layout_fills_dp_and_microbatch():
    spec = load_architecture("dgx-a100")
    p = layout(spec, load_model(GPT), Plan(tp=2, pp=2), 16)
    assert (p.dp, p.microbatch, p.recompute) == (4, 1, "full")
