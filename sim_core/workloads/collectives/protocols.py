"""What a protocol does on the engine: slice size, wire overhead and per-step delays.

NCCL pipelines every channel in slices (``tuning.slice_bytes``): the engine cuts messages
into chunks of that size, so store-and-forward and queueing happen at the granularity the
library really uses. A protocol's flags take wire bytes (``wire_efficiency``): a message
carrying ``m`` payload bytes puts ``m / efficiency`` on the links. Each step waits NCCL's
per-step hardware latency (``step_delay_s``) before its messages start, and the first step
waits the launch latency: small collectives are latency-bound, as measured.
"""
from __future__ import annotations

import numpy as np

from sim_core.workloads.collectives import fitted, tuning
from sim_core.workloads.collectives.catalogue import NO_PROTOCOL


def wire_efficiency(algo: str, protocol: str, generation: str = "") -> float:
    """Payload share of the bytes on the wire for ``algo`` under ``protocol``."""
    if protocol == NO_PROTOCOL:
        return 1.0
    eff = fitted.SIMPLE_WIRE_EFFICIENCY if protocol == "Simple" else tuning.WIRE_EFFICIENCY[protocol]
    if algo == "nvls":
        eff *= tuning.NVLS_EFFICIENCY[tuning.generation_index(generation)]
    return eff


def _row(algo: str) -> str:
    """Table row for an algorithm; those NCCL does not have take the ring's (same step shape)."""
    return tuning.ALGO_ROW.get(algo, "ring")


def step_delay_s(algo: str, protocol: str, link_class: np.ndarray) -> np.ndarray:
    """Delay before each message of a step starts, by its link class ("nvlink", "pcie", "net").

    (K,) array of str -> (K,) float64 seconds; zero without a protocol.
    """
    link_class = np.asarray(link_class)
    out = np.zeros(link_class.shape)
    if protocol == NO_PROTOCOL:
        return out
    if algo == "nvls":
        return out  # NVLS pays its latency once, at launch
    k = tuning.PROTOCOLS.index(protocol)
    for cls, table in tuning.HW_LATENCY_US.items():
        out[link_class == cls] = table[_row(algo)][k] * 1e-6 * fitted.STEP_LATENCY_SCALE
    return out


def launch_delay_s(algo: str, protocol: str) -> float:
    """Delay before the first step: NCCL's base latency of the algorithm and protocol (and
    for NVLS the fitted latency of its multicast setup, which it pays once)."""
    if protocol == NO_PROTOCOL:
        return 0.0
    k = tuning.PROTOCOLS.index(protocol)
    base = tuning.BASE_LATENCY_US[_row(algo)][k] * 1e-6 * fitted.LAUNCH_LATENCY_SCALE
    return base + (fitted.NVLS_LATENCY_S if algo == "nvls" else 0.0)


def slice_bytes(algo: str, protocol: str) -> int:
    """Payload per pipelined slice (``tuning.slice_bytes``); 1 MiB without a protocol."""
    if protocol == NO_PROTOCOL:
        return 1 << 20
    return tuning.slice_bytes(protocol, "nvls" if algo == "nvls" else ("ring" if algo != "tree" else "tree"))


def forwarding_bytes(algo: str, protocol: str) -> int:
    """Wire bytes a receiver holds before it can pass data on: the engine's chunk size.

    Simple forwards whole slices. LL and LL128 put a flag in every line, so a receiver
    passes each line on as soon as its flag lands: the unit is one pass of a channel's
    threads (LL: 512 threads x one 16-byte line; LL128: 640 threads, eight to a 128-byte
    line, 10 KiB).
    """
    if protocol == "LL":
        return tuning.MAX_THREADS["LL"] * 16
    if protocol == "LL128":
        return tuning.MAX_THREADS["LL128"] // 8 * 128
    return slice_bytes(algo, protocol)


def link_class(fabric, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """NCCL's link class of each transfer: "net" between servers, else the server's link kind.

    (K,) int64 node ids -> (K,) str.
    """
    server = fabric.node_server
    spec = fabric.spec
    intra = "nvlink"
    if spec is not None and spec.topology.kind == "cluster":
        kind = spec.links[spec.topology.intra_link].kind
        intra = "nvlink" if kind == "nvlink" else "pcie"
    across = (server[src] != server[dst]) | (server[src] < 0) | (server[dst] < 0)
    return np.where(across, "net", intra)
