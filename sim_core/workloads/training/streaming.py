"""Weight streaming on a wafer: one chain of layer passes, timed and animated alike.

The weights live off the wafer. For every microbatch, every layer's forward and then every
layer's backward (last layer first) is one *pass* on the whole wafer; before it, the
layer's fp16 weights stream in over the wafer's I/O, and after a backward pass its
gradients stream out. The wafer holds two layers at a time (one in use, one arriving;
``wafer._streaming_memory``), so:

* weights in for pass ``j`` follow those of pass ``j - 1`` (one stream at a time) and wait
  until pass ``j - 2`` has finished with its slot;
* pass ``j`` computes once its weights are in and pass ``j - 1`` is done;
* gradients out for a backward pass follow its compute and the previous gradients out.

``chain_end_s`` evaluates this recurrence with the simulated stream times;
``lay_chain`` lays the same dependencies onto an engine (what the app animates), so the
two agree when the streams run as they were simulated (alone on their links).
"""
from __future__ import annotations

import numpy as np

from sim_core.workloads.training.efficiency import wafer_stage_s


def layer_passes(spec, model, plan, microbatches: int) -> tuple[np.ndarray, np.ndarray]:
    """(seconds (N,) f8, backward (N,) bool) of the ``N = microbatches x 2 x layers`` passes
    on one wafer, in order: a layer's share of the roofline of one microbatch on the whole
    wafer (``efficiency.wafer_stage_s`` with one stage)."""
    f, b = wafer_stage_s(spec.chip, model, plan.microbatch, plan.recompute_mode, 1)
    L = max(1, model.layers)
    one = np.concatenate([np.full(L, f / L), np.full(L, b / L)])
    back = np.concatenate([np.zeros(L, dtype=bool), np.ones(L, dtype=bool)])
    return np.tile(one, microbatches), np.tile(back, microbatches)


def layer_bytes(model) -> float:
    """fp16 bytes of one layer's weights (and of its gradients)."""
    return 2.0 * model.parameters() / max(1, model.layers)


def chain_end_s(seconds: np.ndarray, backward: np.ndarray, t_in: float, t_out: float) -> tuple[float, float]:
    """(end of the last pass, end of the last gradients out) in seconds from the start.

    A loop over passes (tens of thousands at most), not over chunks or events."""
    comp = [0.0, 0.0]  # ends of passes j-2, j-1
    t_stream = out = 0.0
    for c, bwd in zip(seconds.tolist(), backward.tolist()):
        t_stream = max(t_stream, comp[0]) + t_in
        end = max(comp[1], t_stream) + c
        comp = [comp[1], end]
        if bwd:
            out = max(out, end) + t_out
    return comp[1], out


def lay_chain(eng, hub: int, host: int, seconds: np.ndarray, backward: np.ndarray, nbytes: float,
              tag_compute: int, tag_stream: int) -> dict:
    """Add one wafer's chain to ``eng``: weights ``host -> hub`` before every pass, the
    passes as compute tasks on ``hub``, gradients ``hub -> host`` after backward passes.
    Returns the ids: ``compute`` (N,), ``streams`` (in and out), ``last`` (what the
    iteration's end waits for)."""
    N = seconds.size
    nb = np.flatnonzero(backward)
    n_items = 2 * N + nb.size
    # ids in order: for each pass j: weights in, compute, [gradients out]
    extra = np.zeros(N, dtype=np.int64)
    extra[nb] = 1
    start = np.concatenate([[0], np.cumsum(2 + extra)[:-1]])
    src = np.empty(n_items, dtype=np.int64)
    dst = np.empty(n_items, dtype=np.int64)
    size = np.zeros(n_items)
    dur = np.zeros(n_items)
    comp = np.zeros(n_items, dtype=bool)
    i_in, i_c, i_out = start, start + 1, start[nb] + 2
    src[i_in], dst[i_in], size[i_in] = host, hub, nbytes
    src[i_c] = dst[i_c] = hub
    comp[i_c], dur[i_c] = True, seconds
    src[i_out], dst[i_out], size[i_out] = hub, host, nbytes
    tags = np.where(comp, tag_compute, tag_stream)
    ids = eng.add_work(src, dst, size, duration_s=dur, is_compute=comp, tag=tags)
    w_in, w_c, w_out = ids[i_in], ids[i_c], ids[i_out]
    before = [w_in[:-1], w_c[:-2], w_in, w_c[:-1], w_c[nb], w_out[:-1]]
    after = [w_in[1:], w_in[2:], w_c, w_c[1:], w_out, w_out[1:]]
    eng.add_dependencies(np.concatenate(before), np.concatenate(after))
    last = np.array([w_c[-1]] + ([w_out[-1]] if w_out.size else []), dtype=np.int64)
    return {"compute": w_c, "streams": np.concatenate([w_in, w_out]), "last": last}
