"""Run one collective alone on a fabric and report it as nccl-tests does."""
from __future__ import annotations

import numpy as np

from sim_core.spec.schema import LINK_KINDS
from sim_core.workloads.collectives.catalogue import BUSBW_FACTOR, NO_PROTOCOL
from sim_core.workloads.collectives.protocols import forwarding_bytes
from sim_core.workloads.collectives.schedule import schedule_collective
from sim_core.workloads.collectives.selection import choose_for

MAX_CHUNKS_PER_MESSAGE = 4096
"""Engine memory bound: a message of more slices than this is cut into larger chunks
(``Engine.message_chunk_bytes``); results say so in ``chunk_bytes``."""


def collective_engine(fabric, nbytes: float, p: int, *, chunks_per_message: int | None = None, seed: int = 0,
                      algo: str = "ring", protocol: str = NO_PROTOCOL, chunk_bytes: int | None = None):
    """An engine for one collective.

    With an NCCL ``protocol``, chunks are what the protocol forwards at once
    (``protocols.forwarding_bytes``: a slice for Simple, a pass of lines for LL/LL128). Without one, or when ``chunks_per_message`` is given,
    messages are cut into at most that many chunks (default 16), of 64 KiB at least.

    ``chunk_bytes`` is the caller's resolution. Chunks larger than the protocol's unit keep
    the unit as what a node forwards at once (cut-through, ``Engine(forward_bytes=...)``),
    so coarse chunks change only how finely competing flows interleave, not the pipeline.
    """
    from sim_core.engine.core import Engine
    if chunk_bytes is not None:  # the caller's resolution
        unit = forwarding_bytes(algo, protocol) if protocol != NO_PROTOCOL else None
        forward = unit if unit is not None and int(chunk_bytes) > unit else None
        return Engine(fabric, chunk_bytes=int(chunk_bytes), seed=seed, forward_bytes=forward)
    if protocol != NO_PROTOCOL and chunks_per_message is None:
        return Engine(fabric, chunk_bytes=forwarding_bytes(algo, protocol), max_chunks_per_message=MAX_CHUNKS_PER_MESSAGE,
                      seed=seed)
    cpm = 16 if chunks_per_message is None else chunks_per_message
    share = max(nbytes / max(p, 1), 1.0)
    chunk = int(max(65536, share / cpm))
    return Engine(fabric, chunk_bytes=chunk, max_chunks_per_message=cpm, seed=seed)


def run_collective(fabric, op: str, algo: str, ranks, nbytes: float, *, protocol: str = "auto",
                   chunks_per_message: int | None = None, gamma_s_per_byte: float | None = None,
                   chunk_bytes: int | None = None, dt_s: float | None = None) -> dict:
    """Simulate one collective alone on ``fabric`` and report NCCL's figures.

    Returns a dict: ``time_s``, ``algbw_GBps`` (bytes / time), ``busbw_GBps`` (algbw x
    NCCL's factor), ``algo``, ``protocol``, ``channels`` (NCCL's), ``lanes`` (distinct rings
    simulated), ``nccl_model_s`` (NCCL's own prediction for the choice, None off NCCL),
    ``chunk_bytes`` (the engine's slice), ``forward_bytes`` (the cut-through unit of chunks
    larger than the protocol's, None when chunks are stored and forwarded whole), ``bottleneck_link_kind`` and ``bottleneck_link``
    (the link busy longest), ``messages``.
    """
    ranks = [int(r) for r in ranks]
    choice = choose_for(fabric, op, nbytes, ranks, algo, protocol)
    eng = collective_engine(fabric, nbytes, len(ranks), chunks_per_message=chunks_per_message,
                            algo=choice.algo, protocol=choice.protocol, chunk_bytes=chunk_bytes)
    h = schedule_collective(eng, op, choice.algo, ranks, nbytes, protocol=choice.protocol,
                            gamma_s_per_byte=gamma_s_per_byte)
    if dt_s:  # in steps of dt_s (the same result: the step-size guarantee)
        from sim_core.engine.core import run_in_steps
        run_in_steps(eng, dt_s)
    else:
        eng.run_until_idle(dt_s=1.0)
    t = h.time_s(eng) or 0.0
    p = len(ranks)
    busy = eng.link_busy_total_s
    top = int(np.argmax(busy)) if busy.size and busy.max() > 0 else -1
    algbw = nbytes / t if t > 0 else float("inf")
    return {
        "op": op, "algo": h.algo, "protocol": h.protocol, "channels": h.channels, "lanes": h.lanes,
        "ranks": p, "bytes": float(nbytes), "time_s": t,
        "algbw_GBps": algbw / 1e9, "busbw_GBps": algbw * BUSBW_FACTOR[op](p) / 1e9,
        "nccl_model_s": h.predicted_s, "chunk_bytes": int(eng.chunk_bytes), "forward_bytes": eng.forward_bytes,
        "bottleneck_link_kind": LINK_KINDS[fabric.link_kind[top]] if top >= 0 else None,
        "bottleneck_link": fabric.link_label(top) if top >= 0 else None,
        "messages": int(h.message_ids.size),
    }
