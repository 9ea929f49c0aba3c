"""Extreme but valid sizes either run or are refused with the limit and the reason."""
import pytest

from sim_core import Engine, SpecError, build_fabric, load_architecture
from sim_core.spec.loader import parse_architecture
from sim_core.validation.cases import pipelined_transfer_s


def _with_links(bw, lat):
    doc = load_architecture("dgx-a100").model_dump(mode="json")
    for link in doc["links"].values():
        link.update(bandwidth_Bps=bw, latency_s=lat, payload_efficiency=1.0)
    return build_fabric(parse_architecture(doc, "extreme.toml"), tiles=(1, 1))


@pytest.mark.parametrize("bw,lat", [(1.0, 1e-9), (1e13, 1.0), (1e13, 1e-9), (1.0, 1.0)])
def test_links_from_1_Bps_to_10_TBps_and_1ns_to_1s(bw, lat):
    fab = _with_links(bw, lat)
    eng = Engine(fab, chunk_bytes=1 << 20)
    path = eng.router.path(fab.device_node(0), fab.device_node(9))
    m = eng.send(fab.device_node(0), fab.device_node(9), 1e9)
    eng.run_until_idle()
    rel, fin = eng.message_times([m])
    # first chunk over every hop, the rest at the slowest link (spine bundles are wider)
    assert fin[0] - rel[0] == pytest.approx(pipelined_transfer_s(fab, path, int(1e9), 1 << 20), rel=1e-9)
    assert eng.step_count < 20_000, "idle time must be skipped (at most a step per event), not stepped through"


@pytest.mark.parametrize("size", [1, 1e11])
def test_one_byte_and_100_GB_tensors(size):
    fab = build_fabric(load_architecture("dgx-a100"), tiles=(1, 1))
    eng = Engine(fab, chunk_bytes=1 << 20)
    m = eng.send(fab.device_node(0), fab.device_node(9), size)
    eng.run_until_idle()
    assert eng.bytes_delivered == int(size)
    assert eng.chunks_created <= eng.max_chunks_per_message


def test_ten_thousand_chips_and_a_1x1_mesh():
    fab = build_fabric(load_architecture("dgx-a100"), nodes=1250, tiles=(1, 1))
    assert fab.n_chips == 10_000
    eng = Engine(fab, chunk_bytes=1 << 20)
    eng.send(fab.device_node(0), fab.device_node(9999), 1e8)
    eng.run_until_idle()
    assert eng.bytes_delivered == int(1e8)


def test_too_many_tiles_is_refused_with_the_limit():
    with pytest.raises(SpecError, match=r"at most 1,100,000 tiles"):
        build_fabric(load_architecture("dgx-a100"), nodes=100, tiles=(64, 64))
