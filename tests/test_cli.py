"""``python -m sim_core``: the JSON scripts read, and one-line errors."""
import json
import subprocess
import sys

import pytest


def run(*args):
    return subprocess.run([sys.executable, "-m", "sim_core", *args], capture_output=True, text=True, timeout=300)


def test_list_json():
    out = run("list", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    ids = {p["id"] for p in doc["presets"]}
    assert {"wafer-wse2", "dgx-a100", "dgx-h100", "pcie-a100", "tpu-v4", "cpu-cluster"} <= ids
    assert all(p["description"] for p in doc["presets"])
    assert {t["id"] for t in doc["traffic_patterns"]} >= {"uniform", "transpose", "bit-complement", "tornado", "neighbor", "hotspot"}


def test_noc_json_fields_and_sweep():
    out = run("noc", "--k", "4", "--traffic", "uniform", "--rate", "0.1", "--packet-flits", "1", "--hop-cycles", "1",
              "--buffer-flits", "8", "--cycles", "2000", "--warmup", "200", "--seed", "1", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    for key in ("offered_rate", "accepted_rate", "avg_latency_cycles", "p99_latency_cycles", "saturated", "cycles", "wall_s"):
        assert key in doc
    assert doc["saturated"] is False and abs(doc["accepted_rate"] - 0.1) < 0.02
    out = run("noc", "--k", "4", "--rates", "0.05,0.9", "--cycles", "1500", "--warmup", "300", "--torus", "--json")
    rows = json.loads(out.stdout)
    assert len(rows) == 2
    assert abs(rows[0]["offered_rate"] - 0.05) < 0.02 and abs(rows[1]["offered_rate"] - 0.9) < 0.05


def test_transfer_json():
    out = run("transfer", "--arch", "dgx-a100", "--nodes", "2", "--src", "0", "--dst", "8", "--bytes", "1e9", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["bottleneck_link_kind"] == "infiniband"
    assert "infiniband" in doc["path_link_kinds"]
    assert 20 < doc["bandwidth_GBps"] < 25  # one 200 Gb/s HDR port


def test_transfer_takes_a_toml_file(tmp_path):
    from sim_core import architecture_to_toml, load_architecture
    p = tmp_path / "mine.toml"
    p.write_text(architecture_to_toml(load_architecture("pcie-a100")))
    out = run("transfer", "--arch", str(p), "--src", "0", "--dst", "1", "--bytes", "1e8", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["bottleneck_link_kind"] == "pcie"


@pytest.mark.parametrize("args,needle", [
    (("transfer", "--arch", "nope"), "preset id"),
    (("transfer", "--src", "99"), "device number"),
    (("transfer", "--bytes", "-5"), "finite number > 0"),
    (("noc", "--k", "1"), "2 to 1,024"),
    (("noc", "--rate", "7"), "rate"),
    (("noc", "--cycles", "100", "--warmup", "500"), "fewer cycles"),
    (("transfer", "--arch", "tpu-v4", "--nodes", "3"), "only for cluster presets"),
])
def test_bad_input_is_one_line_on_stderr(args, needle):
    out = run(*args)
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    assert needle in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert out.stdout == ""


def test_bad_toml_file_is_one_line(tmp_path):
    p = tmp_path / "broken.toml"
    p.write_text("schema_version = 1\n[chip\n")
    out = run("transfer", "--arch", str(p))
    assert out.returncode == 2 and "broken.toml" in out.stderr and "Traceback" not in out.stderr


def test_validate_json_lists_every_case_with_expected_simulated_error():
    out = run("validate", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert len(doc["cases"]) >= 20 and doc["failed"] == 0
    for row in doc["cases"]:
        assert {"name", "expected", "simulated", "error"} <= set(row)
    assert "validating" in out.stderr  # progress goes to stderr, JSON stays clean
