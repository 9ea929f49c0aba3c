"""NCCL's performance model as data: the tables its tuner reads, with their sources.

Every figure here is copied from NVIDIA/nccl (master, 2026): ``src/graph/tuning.cc``
(``ncclTunerConstantsDefaults``, ``nvlsEfficiency``, ``treeCorrectionFactor``),
``src/include/device.h`` and ``src/init.cc`` (buffer sizes), ``src/include/comm.h``
(thread thresholds), ``src/graph/topo.h`` (per-link NVLink bandwidth) and
``src/transport/nvls.cc`` (NVLS chunk size). Latencies are microseconds and bandwidths
GB/s, as NCCL keeps them; ``selection`` converts to seconds and bytes per second.

Protocols (NCCL's names): ``LL`` sends 8 bytes of data with an 8-byte flag in every
16-byte line (half the wire is payload, no memory fence); ``LL128`` carries 120 bytes of
data in a 128-byte line with one flag word; ``Simple`` moves whole slices and
synchronises with a flag and a fence per slice.
"""
from __future__ import annotations

PROTOCOLS = ("LL", "LL128", "Simple")
"""NCCL's protocols, in the order of its tables."""

ALGO_ROW = {"tree": "tree", "ring": "ring", "collnet": "collnet_direct", "nvls": "nvls"}
"""Meshscope's algorithm name -> the row of NCCL's tables it follows."""

BASE_LATENCY_US = {
    "tree": (6.8, 14.0, 8.4), "ring": (6.6, 14.0, 8.4),
    "collnet_direct": (0.0, 0.0, 0.0), "nvls": (0.0, 0.0, 0.0),
}
"""Launch latency per algorithm x (LL, LL128, Simple) (tuning.cc ``baseLatencies``)."""

HW_LATENCY_US = {
    "nvlink": {"tree": (0.6, 1.25, 4.0), "ring": (0.6, 1.9, 3.4), "collnet_direct": (0.0, 0.0, 3.7),
               "nvls": (0.0, 0.0, 25.0)},
    "pcie": {"tree": (1.0, 1.9, 4.0), "ring": (1.0, 2.5, 5.7), "collnet_direct": (0.0, 0.0, 3.7),
             "nvls": (0.0, 0.0, 0.0)},
    "net": {"tree": (5.0, 8.5, 14.0), "ring": (2.7, 4.0, 14.0), "collnet_direct": (0.0, 0.0, 31.0),
            "nvls": (0.0, 0.0, 18.0)},
}
"""Latency of one step per link class x algorithm x protocol (tuning.cc ``hwLatencies``)."""

GENERATIONS = ("volta", "ampere", "hopper", "blackwell")
"""Index of NCCL's per-compute-capability rows (``NCCL_*_COMPCAP_IDX``)."""

LL_MAX_BW_GBPS = {"volta": (39.0, 39.0, 20.4), "ampere": (87.7, 22.5, 19.0), "hopper": (141.0, 45.0, 35.0),
                  "blackwell": (282.0, 90.0, 70.0)}
"""Cap on LL bus bandwidth by generation x (1 node, 2 nodes, more) (``llMaxBws``; the
multi-node columns are NCCL's CPU rows, used here for every CPU)."""

PER_CH_MAX_RING_LL128_BW_GBPS = {"volta": (20.0,) * 3, "ampere": (20.0,) * 3, "hopper": (36.7,) * 3,
                                 "blackwell": (40.0,) * 3}
PER_CH_MAX_TREE_LL128_BW_GBPS = {"volta": (20.0,) * 3, "ampere": (20.0,) * 3, "hopper": (36.7, 36.7, 29.0),
                                 "blackwell": (55.6, 31.67, 20.0)}
PER_CH_MAX_TREE_BW_GBPS = {"volta": (26.5, 18.5, 10.0), "ampere": (24.0, 23.6, 17.8), "hopper": (38.7, 41.4, 36.0),
                           "blackwell": (70.0, 42.8, 24.0)}
"""Per-channel caps by generation x (1 node, 2 nodes, more) (``perChMax*Bws``)."""

NVLS_EFFICIENCY = {"volta": 0.0, "ampere": 0.0, "hopper": 0.85, "blackwell": 0.74}
"""Share of the NVLink bandwidth NVLS reaches (tuning.cc ``nvlsEfficiency``)."""

NVLINK_BW_PER_LINK_GBPS = {"volta": 20.0, "ampere": 20.0, "hopper": 20.6, "blackwell": 40.1}
"""Payload NCCL expects from one NVLink (topo.h ``SM*_NVLINK_BW``): 80-82% of its 25 GB/s."""

TREE_CORRECTION = {
    "LL": (1.0, 1.0, 1.0, 1.0, .9, .8, .7, .7, .7, .7, .6, .5, .4, .4, .5, .6, .7, .8, .9, 1.0, 1.0, 1.0, 1.0, 1.0),
    "LL128": (1.0, 1.0, 1.0, 1.0, 1.0, .9, .8, .8, .8, .7, .6, .6, .6, .6, .6, .6, .8, .9, .9, .9, .9, 1.0, 1.0, 1.0),
    "Simple": (.9, .9, .9, .9, .9, .9, .9, .8, .7, .6, .6, .5, .5, .5, .5, .6, .7, .8, .7, .7, .8, .9, .9, .9),
}
"""Tree bandwidth correction by log2(bytes / 64) (tuning.cc ``treeCorrectionFactor``)."""

# ---- protocol mechanics (device.h, init.cc, collectives.h, comm.h, nvls.cc)
NCCL_STEPS = 8
LL_BUFFER_BYTES = 8 * 512 * NCCL_STEPS * 16          # LL_LINES_PER_THREAD x LL_MAX_NTHREADS x STEPS x line
LL128_BUFFER_BYTES = 120 * 640 * NCCL_STEPS * 8      # LL128_ELEMS_PER_THREAD x LL128_MAX_NTHREADS x STEPS x 8 B
SIMPLE_BUFFER_BYTES = 1 << 22                        # DEFAULT_BUFFSIZE, 4 MiB
ALLREDUCE_CHUNKSTEPS = NCCL_STEPS // 2
ALLREDUCE_SLICESTEPS = NCCL_STEPS // 4
NVLS_CHUNK_BYTES = 128 * 1024                        # NCCL_NVLS_CHUNKSIZE default

WIRE_EFFICIENCY = {"LL": 0.5, "LL128": 120.0 / 128.0, "Simple": 1.0}
"""Payload share of the bytes a protocol puts on the wire (LL: 8 of 16; LL128: 120 of 128)."""

MAX_THREADS = {"LL": 512, "LL128": 640, "Simple": 512}
"""Threads per channel (``NCCL_LL_MAX_NTHREADS``, ``NCCL_LL128_MAX_NTHREADS``, ``NCCL_SIMPLE_MAX_NTHREADS``)."""

THREAD_THRESHOLD = {"LL": 8, "LL128": 8, "Simple": 64}
"""Bytes per thread before NCCL adds a channel (comm.h; ring LL is multiplied by the rank count)."""

NVLS_CHANNELS = 16
"""NVLS channels on one NVSwitch node (nvls.cc: NVLS needs no more than 16 for peak bandwidth)."""

NET_OVERHEAD_US = 1.0
"""Network post overhead per inter-node step on x86 (tuning.cc ``getNetOverhead``; x3 for Simple)."""


def slice_bytes(protocol: str, algo: str = "ring") -> int:
    """Payload NCCL moves per pipelined slice of one channel (enqueue.cc ``calcCollChunking``).

    ``LL``: half of one step's buffer (the other half is flags); ``LL128``: a step's lines
    less their flag words; ``Simple`` ring: ``ALLREDUCE_SLICESTEPS`` steps of 512 KiB;
    Simple tree: one step; NVLS: ``NVLS_CHUNK_BYTES``.
    """
    if algo == "nvls":
        return NVLS_CHUNK_BYTES
    if protocol == "LL":
        return LL_BUFFER_BYTES // NCCL_STEPS // 2
    if protocol == "LL128":
        return LL128_BUFFER_BYTES // NCCL_STEPS // 16 * 15
    step = SIMPLE_BUFFER_BYTES // NCCL_STEPS
    return step * (ALLREDUCE_SLICESTEPS if algo == "ring" else 1)


def generation_index(generation: str) -> str:
    """The table row for a GPU generation (unknown or empty: ampere, NCCL's SM80 default)."""
    return generation if generation in GENERATIONS else "ampere"


def node_column(n_nodes: int) -> int:
    """NCCL's ``index2``: 0 for one node, 1 for two, 2 for more."""
    return 0 if n_nodes <= 1 else (1 if n_nodes == 2 else 2)
