"""One training iteration laid onto an engine, from the schedule ``estimate`` times.

Every item of every pass (``schedule.build_schedule``) becomes engine work on the
devices that run it: compute items are compute tasks on every device of the stage, TP
collectives run per replica over its TP ranks, ZeRO-3 gathers per TP rank over the
replicas, pipeline sends go rank to rank between stages, gradient buckets start when
the last backward pass has produced their bytes. What is drawn is the same schedule:
``IterationHandle.counts`` equals ``schedule.schedule_counts``.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from sim_core.spec.models import load_model
from sim_core.workloads.collectives.algorithms import schedule_collective
from sim_core.workloads.training.plan import as_plan, bad, layout, microbatch_count, rank_node
from sim_core.workloads.training.schedule import build_schedule, bucket_ops, pass_order

EMPTY = np.zeros(0, dtype=np.int64)


@dataclass
class IterationHandle:
    """Ids of one scheduled iteration: compute tasks, sends and every collective handle."""

    compute_ids: np.ndarray
    collectives: list
    start_s: float
    send_ids: np.ndarray = field(default_factory=lambda: EMPTY)
    counts: dict = field(default_factory=dict)

    @property
    def message_ids(self) -> np.ndarray:
        return np.concatenate([self.compute_ids, self.send_ids] + [h.message_ids for h in self.collectives])

    def done(self, eng) -> bool:
        return bool(np.all(np.isfinite(eng.message_times(self.message_ids)[1])))

    def time_s(self, eng) -> float | None:
        if not self.done(eng):
            return None
        return float(eng.message_times(self.message_ids)[1].max() - self.start_s)


class _Layout:
    """Lays passes onto ``eng``; ``prev[(j, i, k)]`` holds the ids a device's next item waits for.

    Compute tasks and sends are buffered and added in one ``Engine.add_work`` call (a
    pipeline of plain passes is tens of thousands of them): until then they are
    placeholders ``-(n + 1)`` for the ``n``-th buffered item, in arrays registered in
    ``_holders`` and rewritten in place when the buffer is flushed, which happens before
    any collective is laid (a collective needs the real ids it waits for) and at the end.
    """

    def __init__(self, eng, plan, sched, tag):
        self.eng, self.plan, self.sched, self.tag = eng, plan, sched, tag
        self.f = eng.f
        self.prev = {}
        self.bucket = {}
        self.compute, self.sends, self.colls = [], [], []
        self.counts = {"compute_tasks": 0, "tp_collectives": 0, "zero3_collectives": 0, "pp_sends": 0,
                       "dp_collectives": 0}
        self._rows = []      # buffered work: (src, dst, bytes, seconds, is_compute, tag)
        self._deps = []      # (before ids or placeholders, after placeholder)
        self._holders = []   # arrays that may hold placeholders
        self._sends_real = 0  # self.sends[:this] are engine ids already

    def dev(self, j, i, k) -> int:
        return rank_node(self.f, self.plan, j, i, k)

    def _hold(self, a: np.ndarray) -> np.ndarray:
        self._holders.append(a)
        return a

    def _buffer(self, src, dst, nbytes, seconds, is_compute, tag) -> int:
        self._rows.append((src, dst, nbytes, seconds, is_compute, tag))
        return -len(self._rows)

    def flush(self) -> None:
        """Add the buffered work to the engine and replace every placeholder by its id."""
        if not self._rows:
            return
        src, dst, nbytes, secs, comp, tags = (np.array(c) for c in zip(*self._rows))
        ids = self.eng.add_work(src, dst, nbytes, duration_s=secs, is_compute=comp, tag=tags)

        def real(a):
            a = np.asarray(a, dtype=np.int64)
            return np.where(a < 0, ids[np.maximum(-a - 1, 0)], a)

        if self._deps:
            before = np.concatenate([b for b, _ in self._deps])
            after = np.repeat(np.array([x for _, x in self._deps], dtype=np.int64), [b.size for b, _ in self._deps])
            self.eng.add_dependencies(real(before), real(after))
        for a in self._holders:
            a[:] = real(a)
        new = self.sends[self._sends_real:]  # only sends buffered since the last flush
        if new:
            self.sends[self._sends_real:] = real(np.asarray(new, dtype=np.int64)).tolist()
        self._sends_real = len(self.sends)
        self._rows, self._deps, self._holders = [], [], []

    def _wait(self, keys, extra=None) -> np.ndarray:
        parts = [self.prev.get(x, EMPTY) for x in keys] + ([extra] if extra is not None else [])
        return np.concatenate(parts) if parts else EMPTY

    def compute_task(self, k, seconds, extra=None) -> np.ndarray:
        p = self.plan
        keys = [(j, i, k) for i in range(p.dp) for j in range(p.tp)]
        tids = self._hold(np.array([self._buffer(self.dev(*x), self.dev(*x), 0.0, seconds, True, self.tag)
                                    for x in keys], dtype=np.int64))
        for x, tid in zip(keys, tids):
            w = self._wait([x], None if extra is None else extra.get(x))
            if w.size:
                self._deps.append((w, tid))
        for x, tid in zip(keys, tids):
            self.prev[x] = self._hold(np.array([tid]))
        self.compute.append(tids)
        self.counts["compute_tasks"] += tids.size
        return tids

    def collective(self, k, key, extra=None, counter=None):
        self.flush()
        p = self.plan
        group, op, nbytes = self.sched.ops[key] if key in self.sched.ops else self.bucket[key]
        if group == "tp":
            sets = [[(j, i, k) for j in range(p.tp)] for i in range(p.dp)]
        else:
            sets = [[(j, i, k) for i in range(p.dp)] for j in range(p.tp)]
        tag = self.tag + (1 if group == "tp" else 3)
        for keys in sets:
            # each device starts its part after its own previous work and ends at its own join,
            # so what waits on a collective waits on one id per device, not on all its messages
            wait = [self._wait([x], None if extra is None else extra.get(x)) for x in keys]
            h = schedule_collective(self.eng, op, "auto", [self.dev(*x) for x in keys], nbytes, tag=tag, after=wait,
                                    joins=True)
            self.colls.append(h)
            for x, done in zip(keys, h.rank_done_ids):
                self.prev[x] = np.array([done], dtype=np.int64)
            self.counts[counter or ("tp_collectives" if group == "tp" else "zero3_collectives")] += 1

    def item(self, k, it, extra=None) -> None:
        """One schedule item of stage ``k``: a compute task or a collective."""
        if it.kind == "compute":
            self.compute_task(k, it.seconds, extra)
        else:
            self.collective(k, it.key, extra)

    def run_pass(self, k, items, recv=None):
        for n, it in enumerate(items):
            self.item(k, it, recv if n == 0 else None)
        return {x: self.prev[x] for x in self.prev if x[2] == k}

    def send(self, k_from, k_to, last) -> dict:
        p = self.plan
        nbytes = self.sched.ops["pp"][2]
        out = {}
        for i in range(p.dp):
            for j in range(p.tp):
                s = self._buffer(self.dev(j, i, k_from), self.dev(j, i, k_to), nbytes, 0.0, False, self.tag + 2)
                w = last[(j, i, k_from)]
                if w.size:
                    self._deps.append((w, s))
                self.sends.append(s)
                out[(j, i, k_to)] = self._hold(np.array([s], dtype=np.int64))
        self.counts["pp_sends"] += p.dp * p.tp
        return out


def iteration_plan(fab, model, plan=None, spec=None):
    """The plan ``schedule_iteration`` lays out on ``fab`` (what ``estimate`` times there):
    dp filled in from the devices, the microbatch chosen; on a wafer, its mode and stages."""
    spec = spec or fab.spec
    model = load_model(model)
    plan = as_plan(plan)
    if spec.topology.kind == "wafer":
        from sim_core.workloads.training.wafer import wafer_plan
        return wafer_plan(spec, model, plan, fab.n_chips)
    dp = plan.dp or max(1, fab.n_chips // (plan.tp * plan.pp))
    n = plan.tp * plan.pp * dp
    if n > fab.n_chips:
        raise bad("dp", dp, f"tp x pp x dp <= {fab.n_chips} devices on this fabric")
    return layout(spec, model, replace(plan, dp=dp), n)


def schedule_iteration(eng, spec_or_fabric, model, plan=None, *, tag_base: int = 0,
                       microbatches: int | None = None) -> IterationHandle:
    """Add one iteration's compute and communication for the first tp x pp x dp devices.

    ``microbatches`` defaults to the iteration's (``microbatch_count``), so the animated
    round is the iteration ``estimate`` times. Tags: ``tag_base`` + 0 compute, 1 TP, 2
    PP, 3 DP and ZeRO-3. A wafer runs the pipelined schedule on its regions
    (``plan.rank_node``), or in weight-streaming mode the chain of ``streaming`` (weights
    in and gradients out as tag 2, then the gradient all-reduce across wafers).
    """
    fab = eng.f
    spec = getattr(spec_or_fabric, "spec", None) or spec_or_fabric
    model = load_model(model)
    plan = iteration_plan(fab, model, plan, spec)
    n = plan.tp * plan.dp * (1 if spec.topology.kind == "wafer" else plan.pp)
    m = int(microbatches or microbatch_count(model, plan, n))
    if spec.topology.kind == "wafer" and plan.wafer_mode == "weight-streaming":
        return _lay_streaming(eng, spec, model, plan, m, tag_base)
    sched = build_schedule(spec, model, plan, m)
    lay = _Layout(eng, plan, sched, tag_base)
    start = eng.now_s
    _lay_pipeline(lay, plan, sched, m)
    lay.flush()
    return IterationHandle(np.concatenate(lay.compute) if lay.compute else EMPTY, lay.colls, start,
                           np.asarray(lay.sends, dtype=np.int64), lay.counts)


def _lay_pipeline(lay, plan, sched, m):
    """Every stage's passes in 1F1B order, in an order where each pass's sender exists."""
    pp, last_chunk = plan.pp, sched.chunks - 1
    orders = [pass_order(plan, k, m) for k in range(pp)]
    pos = [0] * pp
    ends = {}  # (F/B, chunk, u) -> {device key: ids}
    while any(pos[k] < len(orders[k]) for k in range(pp)):
        progressed = False
        for k in range(pp):
            while pos[k] < len(orders[k]):
                d, c, u = orders[k][pos[k]]
                src = ("F", c - 1, u) if d == "F" and c > 0 else ("B", c + 1, u) if d == "B" and c < last_chunk else None
                if src is not None and src not in ends:
                    break
                recv = lay.send(src[1] % pp, k, ends[src]) if src is not None else None
                is_last_b = d == "B" and pos[k] == len(orders[k]) - 1
                items = sched.forward[c] if d == "F" else sched.backward[c]
                if is_last_b:
                    ends[(d, c, u)] = _last_backward(lay, plan, sched, k, items, recv)
                else:
                    ends[(d, c, u)] = lay.run_pass(k, items, recv)
                pos[k] += 1
                progressed = True
        if not progressed:
            raise RuntimeError("pipeline order deadlocks")  # cannot happen for 1F1B orders


def _last_backward(lay, plan, sched, k, items, recv):
    """The stage's last backward pass with its gradient buckets, then the optimizer step.

    Returns the ids the pass ends with (what a pipeline send to the previous stage waits for)."""
    n_b = sched.buckets[k]
    lay.bucket = bucket_ops(plan, sched.stage_grad_bytes[k])
    total = sched.stage_grad_bytes[k]
    acc = total - sum(it.grad_bytes for it in items)  # produced by the stage's other chunks
    size = total / n_b if n_b else 0.0
    bucket_wait, launched = {}, 0
    for n, it in enumerate(items):
        lay.item(k, it, recv if n == 0 else None)
        acc += it.grad_bytes
        while launched < n_b - 1 and acc >= (launched + 1) * size * (1 - 1e-12):
            _bucket(lay, k, bucket_wait)
            launched += 1
    for _ in range(n_b - launched):
        _bucket(lay, k, bucket_wait)
    end = {x: v for x, v in lay.prev.items() if x[2] == k}
    devs = [(j, i, k) for i in range(plan.dp) for j in range(plan.tp)]
    lay.compute_task(k, sched.optimizer_s[k], {x: bucket_wait.get(x, EMPTY) for x in devs})
    if "dp_param" in lay.bucket:
        for _ in range(n_b):
            lay.collective(k, "dp_param", counter="dp_collectives")
    return end


def _bucket(lay, k, bucket_wait) -> None:
    """One gradient bucket: after the compute so far and the previous bucket, off the compute chain."""
    saved = {x: v for x, v in lay.prev.items() if x[2] == k}
    lay.collective(k, "dp_grad", {x: bucket_wait.get(x, EMPTY) for x in saved}, counter="dp_collectives")
    for x in saved:
        bucket_wait[x] = lay.prev[x]
        lay.prev[x] = saved[x]


def _lay_streaming(eng, spec, model, plan, m, tag_base) -> IterationHandle:
    """Weight streaming: every wafer's chain of layer passes, then the gradient all-reduce
    across wafers (what ``wafer.estimate_wafer`` times)."""
    from sim_core.workloads.training.streaming import lay_chain, layer_bytes, layer_passes
    from sim_core.workloads.training.wafer import streaming_hosts
    fab = eng.f
    secs, back = layer_passes(spec, model, plan, m)
    start = eng.now_s
    hosts = streaming_hosts(fab)
    chains = [lay_chain(eng, fab.device_node(w), hosts[w], secs, back, layer_bytes(model), tag_base, tag_base + 2)
              for w in range(fab.n_chips)]
    colls = []
    if fab.n_chips > 1:
        hubs = [fab.device_node(w) for w in range(fab.n_chips)]
        after = [np.asarray(c["last"], dtype=np.int64) for c in chains]
        colls.append(schedule_collective(eng, "allreduce", "auto", hubs, 2.0 * model.parameters(), tag=tag_base + 3,
                                         after=after, joins=True))
    compute = np.concatenate([c["compute"] for c in chains])
    streams = np.concatenate([c["streams"] for c in chains])
    counts = {"compute_tasks": int(compute.size), "tp_collectives": 0, "zero3_collectives": 0,
              "pp_sends": 0, "dp_collectives": len(colls), "weight_streams": int(streams.size)}
    return IterationHandle(compute, colls, start, streams, counts)
