"""Choose a collective's algorithm, protocol and channels the way NCCL's tuner does.

NCCL predicts ``latency + bytes / bandwidth`` for every (algorithm, protocol) pair the
topology allows (NVIDIA/nccl src/graph/tuning.cc ``ncclTopoTuneModel`` and
``ncclTopoGetAlgoTime``) and takes the cheapest; the channel count then shrinks for small
sizes (src/enqueue.cc ``topoGetAlgoInfo``). ``choose`` is that, as a pure function of
the operation, the size and ``TopologyFacts``. The engine then runs the choice chunk by
chunk, so contention comes on top of the table's prediction.

Fabrics without NCCL (TPU tori, wafers, CPU hosts) get the library-free choice:
dimension-wise on whole tori and meshes, trees for small sizes, rings otherwise.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from sim_core.errors import SpecError
from sim_core.workloads.collectives import tuning
from sim_core.workloads.collectives.catalogue import NO_PROTOCOL, OPS, SUPPORTED
from sim_core.workloads.collectives.topology import n_servers, rails, rank_grid, server_groups, switch_of

SMALL_BYTES = 256 * 1024
"""Below this, fabrics without NCCL take latency-bound algorithms (trees, halving/doubling)."""


@dataclass(frozen=True)
class TopologyFacts:
    """What the choice depends on. Bandwidths are payload bytes/s per direction."""

    library: str                 # "nccl" (GPU servers) or "none"
    ranks: int
    nodes: int                   # servers the ranks span
    intra_class: str             # "nvlink" or "pcie": NCCL's link class inside a server
    generation: str              # GPU generation (NCCL's compute-capability rows)
    intra_Bps: float             # one GPU's bandwidth inside its server
    inter_Bps: float             # one server's network bandwidth a collective can use (all rails)
    rails: int                   # rings that leave a server in parallel (one per NIC)
    channels: int                # NCCL's ring/tree channels before size tuning
    switch_reduces: bool = False  # the server's switch reduces (NVLS)
    network_reduces: bool = False  # the network switches reduce (SHARP, CollNet)
    grid: tuple | None = None    # a whole torus or tile mesh (library-free fabrics)
    uniform: bool = True         # the same number of ranks on every server


@dataclass(frozen=True)
class Choice:
    """The chosen ``algo``, ``protocol``, NCCL ``channels``, simulated ``lanes`` (distinct
    rings the engine runs: channels on the same links are run as one lane carrying their
    sum), and NCCL's own predicted seconds for every candidate."""

    algo: str
    protocol: str
    channels: int
    lanes: int
    predicted_s: float | None
    candidates: dict = field(default_factory=dict)


def topology_facts(fabric, ranks) -> TopologyFacts:
    """Read ``TopologyFacts`` off a fabric for these rank nodes."""
    ranks = [int(r) for r in ranks]
    spec = fabric.spec
    nodes = n_servers(fabric, ranks)
    grid = rank_grid(fabric, ranks)
    gpu = spec is not None and spec.topology.kind == "cluster" and spec.topology.intra_node != "host" \
        and all(r >= fabric.n_tiles for r in ranks)
    if not gpu:
        return TopologyFacts("none", len(ranks), nodes, "pcie", "", 0.0, 0.0, 1, 1, grid=grid)
    topo = spec.topology
    intra = spec.links[topo.intra_link]
    net = spec.links[topo.network_link]
    host = spec.links[topo.host_link]
    n_rails = rails(fabric, ranks)
    nic_Bps = min(net.payload_Bps, host.payload_Bps)
    nvlink = intra.kind == "nvlink"
    # one ring channel per 25 GB/s NVLink (NCCL's search finds a ring per link), two on PCIe
    channels = max(1, round(intra.bandwidth_Bps / 25e9)) if nvlink else 2
    groups = server_groups(fabric, ranks)
    return TopologyFacts(
        "nccl", len(ranks), nodes, "nvlink" if nvlink else "pcie", spec.chip.gpu_generation,
        intra.payload_Bps, nic_Bps * (n_rails if nodes > 1 else topo.nics_per_node), n_rails,
        max(channels, n_rails), switch_reduces=topo.switch_reduction and switch_of(fabric, ranks) is not None,
        network_reduces=topo.network_reduction and nodes > 1, grid=grid,
        uniform=nodes == 1 or groups is not None)


def _nsteps(op: str, p: int) -> int:
    return 2 * (p - 1) if op == "allreduce" else (p - 1 if op in ("reduce-scatter", "allgather") else p)


def nccl_bandwidth_Bps(op: str, algo: str, protocol: str, f: TopologyFacts, nc: int) -> float:
    """NCCL's algorithm bandwidth (bytes/s of the user buffer) for one pair; 0 if not allowed."""
    gen = tuning.generation_index(f.generation)
    col = tuning.node_column(f.nodes)
    intra, inter = f.intra_Bps / 1e9, f.inter_Bps / 1e9
    bus = intra if f.nodes == 1 else min(intra, inter)
    if algo == "tree" and f.nodes == 2:
        bus = min(intra, 2 * inter)  # a tree crosses the network once per direction, a ring twice
    ll_max = tuning.LL_MAX_BW_GBPS[gen][col]
    if algo == "nvls":
        bus = intra * tuning.NVLS_EFFICIENCY[gen] * (nc - 1) / nc * 2.0
    elif algo == "collnet":
        bus = min(intra, inter * 0.9) * (0.85 if gen in ("hopper", "blackwell") else 1.0)
    elif algo == "ring" and protocol == "LL":
        bus = min(ll_max, bus * 0.5)
    elif algo == "ring" and protocol == "LL128":
        bus = min(bus * 0.92, nc * tuning.PER_CH_MAX_RING_LL128_BW_GBPS[gen][col])
    elif algo == "tree":
        bus = min(bus * 0.92, nc * tuning.PER_CH_MAX_TREE_BW_GBPS[gen][col])
        if protocol == "LL":
            bus = min(bus / 3.8, ll_max)
        elif protocol == "LL128":
            bus = min(bus * (7.0 / 9.0 if f.nodes == 1 else 120.0 / 128.0),
                      nc * tuning.PER_CH_MAX_TREE_LL128_BW_GBPS[gen][col])
    ratio = f.ranks / _nsteps(op, f.ranks) if algo in ("ring", "nvls") else 0.5
    return bus * ratio * 1e9


def nccl_latency_s(op: str, algo: str, protocol: str, f: TopologyFacts, nbytes: float, nc: int) -> float:
    """NCCL's latency for one pair (tuning.cc, ``latencies``), seconds."""
    k = tuning.PROTOCOLS.index(protocol)
    row = tuning.ALGO_ROW[algo]
    base = tuning.BASE_LATENCY_US[row][k]
    intra = tuning.HW_LATENCY_US[f.intra_class][row][k]
    ppn = f.ranks / f.nodes
    inter = tuning.HW_LATENCY_US["net"]["tree" if ppn == 1 else row][k]
    if algo == "ring":
        nsteps = _nsteps(op, f.ranks)
        if f.nodes > 1:
            intra = max(intra, tuning.NET_OVERHEAD_US * (3 if protocol == "Simple" else 1))
        n_inter = 0 if f.nodes == 1 else (2 * (f.nodes - 1) if op == "allreduce" else f.nodes - 1)
        lat = base + (nsteps - n_inter) * intra + n_inter * inter
        if protocol == "Simple" and f.nodes > 1 and op == "allreduce" and nbytes / (nc * f.ranks) >= 64:
            lat *= 1.4  # NCCL's "plateau effect of ring" on SM80+
    elif algo == "tree":
        lat = base + 2 * ((ppn - 1) * intra + math.log2(f.nodes) * inter)
    elif algo == "nvls":
        lat = intra + (inter if f.nodes > 1 else 0.0)
    else:  # collnet direct
        lat = base + 2 * (min(1.0, ppn - 1) * intra + (ppn - 1) * 0.4) + inter
    return lat * 1e-6


def _allowed(op: str, f: TopologyFacts) -> list[tuple[str, str]]:
    """The (algorithm, protocol) pairs NCCL would consider here."""
    protos = ["LL", "LL128", "Simple"] if f.intra_class == "nvlink" else ["LL", "Simple"]
    pairs = [("ring", p) for p in protos] if op in ("allreduce", "reduce-scatter", "allgather", "broadcast") else []
    if op == "allreduce":
        pairs += [("tree", p) for p in protos]
        if f.switch_reduces and f.nodes == 1 and f.ranks > 2:
            pairs.append(("nvls", "Simple"))
        if f.network_reduces and f.nodes > 1:
            pairs.append(("collnet", "Simple"))
    return pairs


def _channels(algo: str, protocol: str, f: TopologyFacts, nbytes: float) -> int:
    """NCCL's channel tuning: fewer channels while a channel's threads would have too little work."""
    if algo == "nvls":
        return tuning.NVLS_CHANNELS
    nc = f.channels
    nt = tuning.MAX_THREADS[protocol]
    thr = tuning.THREAD_THRESHOLD[protocol] * (f.ranks if (algo, protocol) == ("ring", "LL") else 1)
    while nbytes < nc * nt * thr and nc > 1:
        nc -= 1
    return nc


def nccl_time_s(op: str, algo: str, protocol: str, nbytes: float, f: TopologyFacts) -> float:
    """NCCL's predicted time of one pair; inf where NCCL's table gives it no bandwidth."""
    nc = _channels(algo, protocol, f, nbytes)
    bw = nccl_bandwidth_Bps(op, algo, protocol, f, nc)
    if bw <= 0:
        return math.inf
    if algo == "tree" and op == "allreduce":
        log_size = int(math.log2(max(nbytes, 64) / 64))
        if log_size < 23:
            bw *= tuning.TREE_CORRECTION[protocol][log_size]
    return nccl_latency_s(op, algo, protocol, f, nbytes, nc) + nbytes / bw


def _lanes(algo: str, f: TopologyFacts) -> int:
    """Rings and trees between servers run one lane per rail (NIC); the rest one lane."""
    return f.rails if (algo in ("ring", "tree") and f.nodes > 1 and f.uniform) else 1


def choose(op: str, nbytes: float, f: TopologyFacts, algo: str = "auto", protocol: str = "auto") -> Choice:
    """The (algorithm, protocol, channels) NCCL would run; ``algo``/``protocol`` override.

    Raises ``SpecError`` for an unknown operation, an algorithm the operation does not
    support, or a pair the topology does not allow (NVLS without a reducing switch,
    CollNet without SHARP, a protocol on a fabric without NCCL).
    """
    if op not in OPS:
        raise SpecError("collective", "op", op, "one of " + ", ".join(OPS))
    if algo != "auto" and algo not in SUPPORTED[op]:
        raise SpecError("collective", "algo", algo, f"for {op}: auto, " + ", ".join(SUPPORTED[op]))
    if algo == "nvls" and not f.switch_reduces:
        raise SpecError("collective", "algo", algo, "nvls needs ranks on one switch that reduces in-switch "
                        "(topology.switch_reduction = true)")
    if algo == "collnet" and not f.network_reduces:
        raise SpecError("collective", "algo", algo, "collnet needs ranks on 2+ servers of a network that reduces "
                        "(topology.network_reduction = true)")
    if f.library == "none":
        if protocol not in ("auto", NO_PROTOCOL):
            raise SpecError("collective", "protocol", protocol, f"{NO_PROTOCOL} (this fabric has no NCCL)")
        return Choice(algo if algo != "auto" else _free_choice(op, nbytes, f), NO_PROTOCOL, 1, 1, None)
    if protocol == NO_PROTOCOL:  # the engine's raw messages, for the closed-form identities
        return Choice(algo if algo != "auto" else _free_choice(op, nbytes, f), NO_PROTOCOL, 1, 1, None)
    if protocol not in ("auto",) + tuning.PROTOCOLS:
        raise SpecError("collective", "protocol", protocol, f"auto, {NO_PROTOCOL}, " + ", ".join(tuning.PROTOCOLS))
    if op in ("alltoall", "sendrecv"):
        proto = "Simple" if protocol == "auto" else protocol
        return Choice("direct", proto, 1, 1, None)
    pairs = _allowed(op, f)
    if algo in ("nvls", "collnet"):
        pairs = [(algo, "Simple")]
    elif algo != "auto":
        pairs = [pr for pr in pairs if pr[0] == algo] or [(algo, "Simple")]
    if protocol != "auto":
        pairs = [pr for pr in pairs if pr[1] == protocol] or [(pairs[0][0], protocol)]
    costs = {f"{a}/{p}": (nccl_time_s(op, a, p, nbytes, f) if a in tuning.ALGO_ROW else math.inf) for a, p in pairs}
    best = min(pairs, key=lambda pr: costs[f"{pr[0]}/{pr[1]}"])
    a, p = best
    nc = _channels(a, p, f, nbytes) if a in tuning.ALGO_ROW else f.channels
    predicted = costs[f"{a}/{p}"]
    return Choice(a, p, nc, _lanes(a, f), predicted if math.isfinite(predicted) else None, costs)


def _free_choice(op: str, nbytes: float, f: TopologyFacts) -> str:
    """Library-free fabrics: dimension-wise on whole grids, trees when small, rings otherwise."""
    small = nbytes < SMALL_BYTES
    p = f.ranks
    if op in ("alltoall", "sendrecv"):
        return "direct"
    if op == "broadcast":
        return "tree" if small or p <= 2 else "ring"
    if f.grid is not None and p > 2 and not small:
        return "torus"
    if op != "allreduce":
        return "rhd" if small and p & (p - 1) == 0 else "ring"
    return "tree" if small else "ring"


def choose_for(fabric, op: str, nbytes: float, ranks, algo: str = "auto", protocol: str = "auto") -> Choice:
    """``choose`` with the facts read off ``fabric`` for ``ranks``."""
    return choose(op, nbytes, topology_facts(fabric, ranks), algo, protocol)


def choose_algorithm(fabric, op: str, nbytes: float, ranks) -> str:
    """The algorithm ``choose`` picks (for callers that only need its name)."""
    return choose_for(fabric, op, nbytes, ranks).algo


def collective_lanes(fabric, op: str, nbytes: float, ranks, algo: str = "auto", protocol: str = "auto") -> int:
    """How many distinct rings (lanes) the simulated collective runs: one per rail between
    servers for rings over several servers, else one (channels sharing links run as one)."""
    return choose_for(fabric, op, nbytes, ranks, algo, protocol).lanes
