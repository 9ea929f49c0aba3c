"""Architecture files under fuzzing: valid ones load, corrupt ones give one clear error fast."""
import math
import pathlib
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from sim_core import build_fabric, load_architecture
from tools.fuzz_architectures import CORRUPTIONS, run
from sim_core.spec.loader import parse_architecture

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_corrupted_files_never_crash_or_hang():
    res = run(cases=60 * len(CORRUPTIONS), seed=123)
    assert res["failures"] == []
    for kind, outcomes in res["by_corruption"].items():
        assert outcomes.get("error", 0) > 0, f"{kind} never produced an error: is the corruption applied?"


positive = st.floats(min_value=1e-3, max_value=1e3, allow_nan=False, allow_infinity=False)


@settings(max_examples=80, deadline=None)
@given(bw=positive, lat=positive, flops=positive, eff=st.floats(0.01, 1.0), nodes=st.integers(1, 3),
       cpn=st.integers(1, 8), tiles=st.tuples(st.integers(1, 6), st.integers(1, 6)),
       pid=st.sampled_from(["dgx-a100", "pcie-a100", "cpu-cluster"]))
def test_random_valid_documents_load_and_build(bw, lat, flops, eff, nodes, cpn, tiles, pid):
    doc = load_architecture(pid).model_dump(mode="json")
    for link in doc["links"].values():
        link["bandwidth_Bps"] *= bw
        link["latency_s"] = min(10.0, link["latency_s"] * lat)
    doc["chip"]["peak_flops"] *= flops
    doc["chip"]["compute_efficiency"] = eff
    doc["topology"]["nodes"] = nodes
    doc["topology"]["chips_per_node"] = cpn
    doc["topology"]["nics_per_node"] = min(doc["topology"]["nics_per_node"], cpn)
    spec = parse_architecture(doc, "random.toml")
    fab = build_fabric(spec, tiles=tiles)
    assert fab.n_chips == nodes * cpn
    assert math.isfinite(fab.link_bandwidth_Bps.max())


def test_files_are_data_only_no_code_execution_anywhere():
    pattern = re.compile(r"(?<![.\w])(eval|exec)\s*\(|\bpickle\b|\byaml\.load\b|\bmarshal\b|__import__\s*\(")
    offenders = []
    for folder in ("sim_core", "app"):
        for path in (ROOT / folder).rglob("*.py"):
            for n, line in enumerate(path.read_text().splitlines(), 1):
                code = line.split("#")[0]
                if pattern.search(code) and "pattern" not in code:
                    offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert offenders == []
