"""What the collectives package can run: operations, algorithms and NCCL's bus-bandwidth factors."""
from __future__ import annotations

OPS = {
    "allreduce": "every rank ends with the sum of all ranks' n bytes",
    "reduce-scatter": "every rank ends with its 1/p share of the sum of n bytes",
    "allgather": "every rank ends with all ranks' shares (n bytes in total)",
    "broadcast": "rank 0's n bytes reach every rank",
    "alltoall": "every rank sends a distinct n/p bytes to every other rank",
    "sendrecv": "point to point: rank 2i sends n bytes to rank 2i+1 (pipeline stages)",
}

ALGORITHMS = {
    "ring": "p-1 neighbour steps of n/p per phase, one ring per channel (per NIC between servers)",
    "tree": "across servers NCCL's tree (a chain to each server's NIC, two complementary binary trees between "
            "servers, one per rail); inside one server two complementary binomial trees, half the data each",
    "rhd": "recursive halving then doubling (Rabenseifner): lg p steps, bandwidth-optimal",
    "torus": "dimension by dimension on a 2D/3D torus or mesh (TPU pods): bidirectional rings along each axis",
    "hierarchical": "reduce-scatter inside each server, all-reduce across servers, all-gather inside",
    "nvls": "NVLink SHARP: every rank's data is reduced inside the NVSwitch and multicast back",
    "collnet": "SHARP in the network: one rank per server sends its share up, the switch reduces and returns it",
    "direct": "every transfer at once, straight to its destination",
}

SUPPORTED = {
    "allreduce": ("ring", "tree", "rhd", "torus", "hierarchical", "nvls", "collnet"),
    "reduce-scatter": ("ring", "rhd", "torus"),
    "allgather": ("ring", "rhd", "torus"),
    "broadcast": ("tree", "ring"),
    "alltoall": ("direct",),
    "sendrecv": ("direct",),
}

BUSBW_FACTOR = {"allreduce": lambda p: 2 * (p - 1) / p, "reduce-scatter": lambda p: (p - 1) / p,
                "allgather": lambda p: (p - 1) / p, "alltoall": lambda p: (p - 1) / p,
                "broadcast": lambda p: 1.0, "sendrecv": lambda p: 1.0}
"""NCCL's bus-bandwidth factors (nccl-tests doc/PERFORMANCE.md)."""

NO_PROTOCOL = "none"
"""Protocol name of fabrics without a collective library (tori, wafers, CPU hosts): the
engine's messages as they are, with no per-step protocol latency or wire overhead."""
