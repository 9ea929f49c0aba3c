"""Alpha-beta closed forms of the collectives, in the engine's terms.

They are identities of the engine's raw messages (``protocol="none"``: no protocol delay,
wire overhead or slice pipelining). Thakur, Rabenseifner and Gropp (IJHPCA 2005; MPICH's
allreduce.c): with ``a`` the per-message latency, ``b`` seconds per byte, ``g`` seconds per reduced byte and ``n`` bytes over ``p`` ranks:

* ring all-reduce: ``2(p-1) a + 2(p-1)/p n b + (p-1)/p n g``
* Rabenseifner (recursive halving then doubling): ``2 lg p a + 2(p-1)/p n b + (p-1)/p n g``
* two binomial trees, half the data each: ``2 lg p (a + n/2 b) + lg p n/2 g``
* binomial broadcast: ``lg p (a + n b)``; ring all-gather: ``(p-1)(a + n/p b)``

The engine stores and forwards each chunk, so one message of m bytes over h hops costs
``m/B + (h-1)c/B + sum(L)``: the effective ``a`` is the path latency plus ``(h-1)c/B``.
A receiver reads its buffer at the link rate, so a short last chunk waits for the full one
ahead of it: m counts as a whole number of chunks when it has more than one.
"""
from __future__ import annotations

import math

from sim_core.spec.loader import load_architecture
from sim_core.fabric.build import build_fabric
from sim_core.workloads.collectives.reduction import reduction_s_per_byte


def crossbar(p: int):
    """``p`` GPUs on one NVSwitch (the dgx-a100 preset widened to p chips per node).

    Every pair is two equal NVLink hops and each rank's links carry one transfer per step:
    nothing contends, so the closed forms apply. Returns (fabric, rank node ids).
    """
    spec = load_architecture("dgx-a100")
    topo = spec.topology.model_copy(update={"chips_per_node": p, "nics_per_node": p})
    fab = build_fabric(spec.model_copy(update={"topology": topo}), nodes=1, tiles=(1, 1))
    return fab, [fab.device_node(d) for d in range(p)]


def message_s(fab, eng, src: int, dst: int, m: float) -> float:
    """Time of one lone message of ``m`` bytes from ``src`` to ``dst`` on ``eng``'s fabric."""
    path = eng.router.path(src, dst)
    B = float(fab.link_bandwidth_Bps[path].min())
    m = float(round(m))
    c = min(m, float(eng.message_chunk_bytes(int(m))))
    if m > c:
        m = math.ceil(m / c) * c
    return m / B + (len(path) - 1) * c / B + float(fab.link_latency_s[path].sum())


def gamma_s_per_byte(fab) -> float:
    """Reduction cost of a device (``reduction.reduction_s_per_byte``)."""
    return reduction_s_per_byte(fab, fab.device_node(0))


def expected_s(fab, eng, ranks, op: str, algo: str, n: float) -> float:
    """Closed-form time of ``op``/``algo`` over ``ranks`` with nothing contending."""
    p = len(ranks)
    g = gamma_s_per_byte(fab)
    step = lambda m: message_s(fab, eng, ranks[0], ranks[1], m)  # noqa: E731 - every pair is alike
    lg = int(math.log2(p))
    if (op, algo) == ("allreduce", "ring"):
        return 2 * (p - 1) * step(n / p) + (p - 1) / p * n * g
    if (op, algo) == ("allreduce", "rhd"):
        return 2 * sum(step(n / 2 ** (k + 1)) for k in range(lg)) + (p - 1) / p * n * g
    if (op, algo) == ("allreduce", "tree"):
        return 2 * lg * step(n / 2) + lg * n / 2 * g
    if (op, algo) == ("broadcast", "tree"):
        return lg * step(n)
    if (op, algo) == ("allgather", "ring"):
        return (p - 1) * step(n / p)
    raise ValueError(f"no closed form for {op}/{algo}")
