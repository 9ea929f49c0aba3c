"""Workloads the app puts on a fabric: NoC traffic, a tensor transfer, a collective, training.

Each workload is an ``Engine`` traffic generator (``__call__(eng, t0, t1)``) that keeps
the fabric busy by starting its next round once the previous one has finished, so the
animation never runs dry. ``state()`` / ``set_state()`` capture what the engine snapshot
does not (which round is running), so step-back replays identically.

Tensors live spread over a chip's cores, not at its edge: a message goes from tile k of
one chip to tile k of the other, so every chunk crosses the source mesh, the chip's I/O
hub, the off-chip links and the destination mesh. That is what makes the edge of the
chip (where bandwidth drops by 10-100x) visible as a queue.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from sim_core import SpecError
from sim_core.workloads import collectives, training
from sim_core.spec.models import load_model, model_ids
from sim_core.workloads.traffic import PATTERNS, SyntheticTraffic

WORKLOAD_KINDS = {
    "noc": "synthetic on-chip traffic: every core injects packets at a rate, in a pattern",
    "transfer": "one tensor copied from one device to another, over and over",
    "collective": "a collective (all-reduce, ...) over every device, with the algorithm NCCL would pick or yours",
    "training": "one training iteration of a zoo model (sim_core.training): compute, tensor/pipeline "
                "traffic, then the gradient all-reduce",
}
MAX_MESSAGES_PER_ROUND = 24_000
DONE_BLOCK = 1 << 16  # messages a round-completion check reads per block


def spread_tiles(rows: int, cols: int, k: int) -> np.ndarray:
    """(k,) int64 local tile ids spread evenly over an R x C mesh."""
    per = rows * cols
    k = max(1, min(k, per))
    return np.unique(np.linspace(0, per - 1, k).round().astype(np.int64))


@dataclass
class RoundLog:
    """Durations (s) of completed rounds (iterations) of a repeating workload."""

    starts: list[float] = field(default_factory=list)
    durations: list[float] = field(default_factory=list)

    def copy(self) -> "RoundLog":
        return RoundLog(list(self.starts), list(self.durations))


class RepeatingWorkload:
    """Base: schedules a round, waits for its messages, forgets them, starts the next.

    Every round is the same work from a later start, so the first is recorded and the
    rest are replayed (``Engine.replay_work``): planning a collective over thousands of
    chips takes seconds, adding its arrays again a fraction of that."""

    kind = "base"

    def __init__(self, fabric, *, tag_base: int = 0):
        self.f = fabric
        self.tag_base = tag_base
        self.ids = np.zeros(0, dtype=np.int64)
        self._done_upto = 0  # self.ids[:_done_upto] are known to have completed
        self.round_start = 0.0
        self.log = RoundLog()
        self._template = None  # the first round as recorded (sim_core.engine.replay), replayed after
        self._template_engine = None

    def schedule_round(self, eng) -> np.ndarray:
        raise NotImplementedError

    def _round_done(self, eng) -> bool:
        """Whether every message of the round has completed: checked a block at a time
        from the first block not yet seen done, so a pod's 2.4 M messages are not all read
        on every call (O(messages) over the whole round, not per call)."""
        while self._done_upto < self.ids.size:
            part = self.ids[self._done_upto:self._done_upto + DONE_BLOCK]
            if not eng.completed(part).all():
                return False
            self._done_upto += part.size
        return True

    def __call__(self, eng, t0: float, t1: float) -> None:
        if self.ids.size:
            if not self._round_done(eng):
                return
            finish = eng.last_finish_s(self.ids)
            self.log.starts.append(self.round_start)
            self.log.durations.append(finish - self.round_start)
        self.round_start = t0
        if self._template is not None and self._template_engine is eng:
            # the same round, without planning it again; the finished round's messages are
            # forgotten (a repeating workload must not grow the engine) or rearmed in place
            self.ids = eng.replay_work(self._template, reuse=self.ids if self.ids.size else None)
            self._done_upto = 0
            return
        if self.ids.size:
            eng.forget(self.ids)
        with eng.record_work() as rec:
            self.ids = self.schedule_round(eng)
        self._done_upto = 0
        self._template, self._template_engine = rec.template(self.ids), eng

    def state(self) -> tuple:
        return self.ids.copy(), self.round_start, self.log.copy()

    def initial_state(self) -> tuple:
        return np.zeros(0, dtype=np.int64), 0.0, RoundLog()

    def set_state(self, state: tuple) -> None:
        ids, self.round_start, log = state
        self.ids = ids.copy()
        self._done_upto = 0
        self.log = log.copy()

    def last_round_s(self) -> float | None:
        return self.log.durations[-1] if self.log.durations else None


class Collective(RepeatingWorkload):
    """A collective from ``sim_core.collectives`` over every device, repeated.

    ``channels`` > 0 spreads the tensor over that many tiles of each chip and runs one
    collective per tile lane with 1/channels of the bytes (NCCL's channels): chunks then
    cross the source mesh, the chip's I/O hub, the off-chip links and the far mesh.
    ``channels`` = 0 uses the device hubs as ranks (the chip edge, no mesh). The particle
    colour is the channel.
    """

    kind = "collective"

    def __init__(self, fabric, *, op: str = "allreduce", algo: str = "ring", nbytes: float = 8e6,
                 channels: int = 8, tag_base: int = 0):
        super().__init__(fabric, tag_base=tag_base)
        if op not in collectives.OPS:
            raise ValueError(f"collective {op!r}: allowed {', '.join(collectives.OPS)}")
        if algo != "auto" and algo not in collectives.SUPPORTED[op]:
            raise ValueError(f"algorithm {algo!r} for {op}: allowed auto, {', '.join(collectives.SUPPORTED[op])}")
        per = fabric.tile_rows * fabric.tile_cols
        if fabric.n_chips < 2 and per < 2:
            raise ValueError("a collective needs at least 2 devices; raise the chip count")
        self.op, self.algo, self.nbytes = op, algo, float(nbytes)
        devices = np.arange(fabric.n_chips)
        if fabric.n_chips < 2:
            # One device holding the whole model (a wafer): the reduction runs between its
            # cores, over the on-chip mesh, as one rank per spread-out core.
            self.lanes = [spread_tiles(fabric.tile_rows, fabric.tile_cols, max(2, channels or 8))]
        elif channels > 0:
            k = min(channels, max(1, MAX_MESSAGES_PER_ROUND // (2 * fabric.n_chips ** 2)))
            lanes = spread_tiles(fabric.tile_rows, fabric.tile_cols, k)
            self.lanes = [devices * per + int(t) for t in lanes]
        else:
            self.lanes = [fabric.chip_hub[devices].astype(np.int64)]
        self.algo_used = algo
        # Each lane reduces with its share of the chip's memory bandwidth, so k lanes
        # together reduce as fast as the whole chip (sim_core charges a tile 1/T of it).
        chip = getattr(fabric.spec, "chip", None)
        self.gamma = 3.0 * len(self.lanes) / chip.memory_bandwidth_Bps if chip is not None else None

    def schedule_round(self, eng) -> np.ndarray:
        ids = []
        for c, ranks in enumerate(self.lanes):
            h = collectives.schedule_collective(eng, self.op, self.algo, ranks.tolist(), self.nbytes / len(self.lanes),
                                                tag=self.tag_base + c, gamma_s_per_byte=self.gamma)
            self.algo_used = h.algo
            ids.append(h.message_ids)
        return np.concatenate(ids)


def nearest_model(params: float) -> str:
    """The zoo model whose parameter count is nearest ``params`` on a log scale."""
    ids = model_ids()
    return min(ids, key=lambda mid: abs(math.log(load_model(mid).parameters() / max(params, 1.0))))


class TrainingIteration(RepeatingWorkload):
    """One training iteration of a zoo model, scheduled by ``sim_core.training.schedule_iteration``.

    The same model ``training.estimate`` uses for its numbers: all of the iteration's
    microbatches (``training.microbatch_count``) in 1F1B order on every pipeline stage, tensor-parallel all-reduces,
    activations between stages, then the gradient all-reduce of every data-parallel
    group. The plan is ``training.auto_plan``'s for the fabric's devices unless given.
    Tags: ``tag_base`` + 0 compute, 1 TP, 2 PP, 3 DP (the particle colour).
    """

    kind = "training"

    def __init__(self, fabric, *, model: str = "bert-large", plan: training.Plan | None = None,
                 microbatch: int | None = None, microbatches: int | None = None, tag_base: int = 0):
        super().__init__(fabric, tag_base=tag_base)
        try:
            self.model = load_model(model)
            self.plan = plan or training.auto_plan(fabric.spec, self.model, fabric.n_chips)
        except SpecError as exc:
            raise ValueError(str(exc)) from None
        if microbatch is not None:
            dp = self.plan.dp or max(1, fabric.n_chips // (self.plan.tp * self.plan.pp))
            self.plan = replace(self.plan, microbatch=max(1, min(int(microbatch), self.model.batch // dp or 1)))
        try:  # the plan as laid out on this fabric (on a wafer: its mode and regions)
            self.plan = training.iteration_plan(fabric, self.model, self.plan)
        except SpecError as exc:
            raise ValueError(str(exc)) from None
        # The whole iteration by default, so the animated round is the iteration that
        # sim_core.training.estimate times (a shorter round would tell another story).
        self.microbatches = int(microbatches or training.microbatch_count(self.model, self.plan, fabric.n_chips))
        p = self.plan
        where = ""
        if fabric.spec.topology.kind == "wafer":  # what sim_core.training.schedule_iteration lays out
            where = (f", pipelined over {p.pp} regions of the wafer" if p.wafer_mode == "pipelined" else
                     ", weight streaming: each layer's weights in, its gradients out, two layers on the wafer")
        self.algo_used = f"{self.model.id}, tp {p.tp} x pp {p.pp} x dp {p.dp}{where}"

    def schedule_round(self, eng) -> np.ndarray:
        h = training.schedule_iteration(eng, self.f, self.model, self.plan, tag_base=self.tag_base,
                                        microbatches=self.microbatches)
        return h.message_ids


class TensorTransfer(RepeatingWorkload):
    """One tensor copied from device ``src`` to device ``dst`` (default: the last), repeated.

    The tensor is spread over ``lanes`` tiles of the source chip and lands on the same
    tiles of the destination chip, so its chunks cross both meshes and the links between.
    """

    kind = "transfer"

    def __init__(self, fabric, *, src: int = 0, dst=None, nbytes: float = 8e6, lanes: int = 8, tag_base: int = 0):
        super().__init__(fabric, tag_base=tag_base)
        n = fabric.n_chips
        dst = n - 1 if dst is None else int(dst)
        if n < 2:
            raise ValueError("a transfer needs at least 2 devices; raise the chip count")
        if not (0 <= src < n and 0 <= dst < n) or src == dst:
            raise ValueError(f"src {src}, dst {dst}: allowed two different devices 0 to {n - 1}")
        if not (1.0 <= nbytes <= 1e12):
            raise ValueError(f"nbytes {nbytes:g}: allowed 1 B to 1 TB")
        self.src, self.dst, self.nbytes = int(src), dst, float(nbytes)
        per = fabric.tile_rows * fabric.tile_cols
        tiles = spread_tiles(fabric.tile_rows, fabric.tile_cols, min(lanes, max(1, int(nbytes))))
        self.src_nodes = self.src * per + tiles
        self.dst_nodes = self.dst * per + tiles

    def schedule_round(self, eng) -> np.ndarray:
        k = self.src_nodes.size
        return eng.add_messages(self.src_nodes, self.dst_nodes, np.full(k, self.nbytes / k),
                                tag=self.tag_base + np.arange(k))


class NocTraffic:
    """Synthetic traffic on one chip's mesh (sim_core.traffic), stateless between steps."""

    kind = "noc"

    def __init__(self, fabric, *, pattern: str = "uniform", rate: float = 0.01, chip: int = 0,
                 packet_flits: int = 4, flit_bytes: int = 16):
        if pattern not in PATTERNS:
            raise ValueError(f"pattern {pattern!r}: allowed {', '.join(PATTERNS)}")
        self.gen = SyntheticTraffic(fabric, pattern, rate, packet_flits=packet_flits, flit_bytes=flit_bytes,
                                    chip=chip, tag=1)
        self.log = RoundLog()

    def __call__(self, eng, t0: float, t1: float) -> None:
        self.gen(eng, t0, t1)

    def state(self) -> tuple:
        return (self.gen.generated_flits,)

    def initial_state(self) -> tuple:
        return (0,)

    def set_state(self, state: tuple) -> None:
        self.gen.generated_flits = state[0]

    def last_round_s(self) -> float | None:
        return None


def make_workload(fabric, kind: str, params: dict):
    """Build the workload ``kind`` (a key of ``WORKLOAD_KINDS``) with ``params``."""
    p = dict(params)
    if kind == "noc":
        return NocTraffic(fabric, pattern=p.get("pattern", "uniform"), rate=float(p.get("rate", 0.01)),
                          packet_flits=int(p.get("packet_flits", 4)))
    if kind == "transfer":
        return TensorTransfer(fabric, src=int(p.get("src", 0)), dst=p.get("dst"), nbytes=float(p.get("nbytes", 8e6)))
    if kind == "collective":
        return Collective(fabric, op=p.get("op", "allreduce"), algo=p.get("algo", "ring"),
                          nbytes=float(p.get("nbytes", 8e6)), channels=int(p.get("channels", 8)))
    if kind == "training":
        # The parameter panel offers "model (M params)" and "tokens / device": a model
        # size picks the nearest zoo model, tokens per device its microbatch.
        model = p.get("model") or nearest_model(float(p.get("params", 340e6)))
        mb = None
        if "tokens_per_device" in p:
            mb = max(1, round(float(p["tokens_per_device"]) / load_model(model).seq))
        return TrainingIteration(fabric, model=model, microbatch=mb)
    raise ValueError(f"workload {kind!r}: allowed {', '.join(WORKLOAD_KINDS)}")
