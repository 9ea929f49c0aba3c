"""The training command line: JSON on stdout, progress on stderr, one-line errors."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest


def run(*args):
    p = subprocess.run([sys.executable, "-m", "sim_core", *args], capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def test_collective_json():
    rc, out, err = run("collective", "--arch", "dgx-a100", "--nodes", "1", "--op", "allreduce", "--algo", "ring",
                       "--bytes", "4e9", "--json")
    assert rc == 0, err
    r = json.loads(out)
    assert {"time_s", "algbw_GBps", "busbw_GBps", "algo", "bottleneck_link_kind"} <= set(r)
    assert r["bottleneck_link_kind"] == "nvlink" and r["algo"] == "ring"
    rc, out, _ = run("collective", "--arch", "dgx-a100", "--nodes", "2", "--algo", "auto", "--bytes", "1e9", "--json")
    assert json.loads(out)["algo"] == "tree"  # NCCL takes a tree on two servers


def test_train_json_and_progress_on_stderr():
    rc, out, err = run("train", "--arch", "dgx-a100", "--nodes", "4", "--model", "gpt", "--layers", "24", "--hidden",
                       "2304", "--heads", "24", "--seq", "2048", "--vocab", "51200", "--batch", "512", "--tp", "1",
                       "--pp", "1", "--tokens", "300e9", "--json")
    assert rc == 0, err
    r = json.loads(out)
    assert {"iteration_s", "tflops_per_device", "share_of_peak", "breakdown_s", "memory_per_device_GB",
            "time_to_train_s"} <= set(r)
    assert isinstance(r["breakdown_s"], dict)
    assert "simulating" in err


def test_train_is_the_projection_estimate_computes_whatever_mesh_is_drawn():
    # 128 DGX A100 servers: a three-level fat tree, where routes once followed the cores drawn
    # per GPU. The command line, --tiles or not, gives what estimate() gives on its own fabric.
    from sim_core.spec.loader import load_architecture
    from sim_core.spec.models import load_model
    from sim_core.workloads.training import Plan, estimate
    outs = []
    for extra in ((), ("--tiles", "4x8")):
        rc, out, err = run("train", "--arch", "dgx-a100", "--nodes", "128", "--model", "resnet50", *extra, "--json")
        assert rc == 0, err
        outs.append(json.loads(out))
    direct = estimate(load_architecture("dgx-a100"), load_model("resnet50"), Plan(), nodes=128)
    assert outs[0]["iteration_s"] == outs[1]["iteration_s"] == direct["iteration_s"]


def test_train_plan_options_reach_the_plan():
    rc, out, err = run("train", "--arch", "dgx-a100", "--nodes", "2", "--model", "gpt", "--layers", "8", "--hidden",
                       "4096", "--heads", "32", "--seq", "2048", "--vocab", "51200", "--batch", "64", "--tp", "4",
                       "--pp", "2", "--virtual-stages", "2", "--recompute", "selective", "--sequence-parallel",
                       "--zero", "1", "--json", "--quiet")
    assert rc == 0, err
    plan = json.loads(out)["plan"]
    assert (plan["recompute"], plan["sequence_parallel"], plan["virtual_stages"], plan["zero"]) == ("selective", True, 2, 1)
    assert json.loads(out)["schedule"] == "interleaved 1F1B, 2 chunks a stage"


def test_compare_json_one_row_per_preset():
    rc, out, err = run("compare", "--model", "gpt3-175b", "--tokens", "300e9", "--json", "--power-kw", "60")
    assert rc == 0, err
    rows = json.loads(out)
    assert len(rows) >= 6 and all("arch" in r and "basis" in r for r in rows)


@pytest.mark.parametrize("args,needle", [
    (("train", "--nodes", "4", "--tp", "3", "--model", "bert-large"), "must equal"),
    (("train", "--nodes", "1", "--model", "gpt3-175b"), "too much"),
    (("train", "--nodes", "0"), "allowed whole numbers"),
    (("collective", "--bytes", "-1"), "must be a finite number > 0"),
    (("train", "--model", "gpt", "--layers", "4"), "needs"),
    (("collective", "--arch", "tpu-v4", "--nodes", "2"), "only for cluster"),
    (("train", "--nodes", "1", "--model", "bert-large", "--no-recompute", "--recompute", "full"), "with --no-recompute"),
])
def test_bad_input_is_one_line_exit_2(args, needle):
    rc, out, err = run(*args)
    assert rc == 2 and out == ""
    assert needle in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_train_takes_the_engine_step_and_chunk_size_and_the_step_changes_nothing():
    from sim_core.workloads.training import estimate
    from sim_core.workloads.training.comm import Resolution

    base = estimate("dgx-a100", "bert-large", nodes=2)
    for dt in (1e-4, 1e-3):
        assert estimate("dgx-a100", "bert-large", nodes=2, resolution=Resolution(dt_s=dt))["iteration_s"] == \
            base["iteration_s"]  # bit for bit: the step is not a resolution knob
    rc, out, err = run("train", "--arch", "dgx-a100", "--nodes", "2", "--model", "bert-large", "--chunk-bytes",
                       "262144", "--dt", "1e-4", "--json", "--quiet")
    assert rc == 0, err
    r = json.loads(out)
    assert r["chunk_bytes"] == 262144 and r["dt_s"] == 1e-4 and r["chunks_per_message"] is None
    fine = estimate("dgx-a100", "bert-large", nodes=2, resolution=Resolution(chunk_bytes=262144))
    assert r["iteration_s"] == fine["iteration_s"]


@pytest.mark.parametrize("flag,value", [("--dt", "0"), ("--dt", "-1"), ("--dt", "nan"), ("--dt", "inf"),
                                        ("--chunk-bytes", "0"), ("--chunk-bytes", "1.5"), ("--chunk-bytes", "inf")])
def test_train_refuses_a_bad_step_or_chunk_size_in_one_line(flag, value):
    rc, out, err = run("train", "--arch", "dgx-a100", "--nodes", "1", "--model", "bert-large", flag, value, "--json")
    assert rc == 2 and out == ""
    assert flag in err and "Traceback" not in err and len(err.strip().splitlines()) <= 2
