"""The named experiments scenes show: their numbers come from the engine and tell the story."""
from sim_core.workloads.experiments import bisection_scaling, latency_ladder


def test_leaving_the_chip_costs_two_to_four_orders_of_magnitude():
    rows = latency_ladder(4.0)
    assert rows[0]["link_kinds"] == ["noc"]
    off = rows[1:]
    assert min(r["times_on_chip"] for r in off) >= 100
    assert max(r["times_on_chip"] for r in off) >= 1000
    kinds = [r["path"] for r in rows]
    assert kinds.index("GPU to GPU over NVLink (NVSwitch)") < kinds.index("GPU to GPU across Ethernet")


def test_bisection_limits_all_to_all_but_not_neighbour_traffic():
    rows = {(r["k"], r["pattern"]): r for r in bisection_scaling(ks=(4, 8), cycles=1500, warmup=300)}
    nn = rows[(8, "neighbor")]["total_flits_per_cycle"] / rows[(4, "neighbor")]["total_flits_per_cycle"]
    uni = rows[(8, "uniform")]["total_flits_per_cycle"] / rows[(4, "uniform")]["total_flits_per_cycle"]
    assert nn > 3.5  # grows with the number of cores (4x from 4x4 to 8x8)
    assert uni < 2.2  # grows with the bisection (2x)
