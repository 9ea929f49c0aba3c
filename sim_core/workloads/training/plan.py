"""A parallelism plan and its layout on the devices (Megatron-LM's order of ranks)."""
from __future__ import annotations

from dataclasses import dataclass, replace

from sim_core.errors import SpecError
from sim_core.fabric.build import sized_fabric
from sim_core.spec.models import ModelSpec

RECOMPUTE = ("full", "selective", "none")
"""Activation recomputation (Korthikanti et al. 2022, arXiv 2205.05198): ``full`` keeps
each layer's input and re-runs its forward in the backward pass; ``selective`` keeps
everything but the attention's softmax/dropout part and re-runs only that; ``none``."""


@dataclass(frozen=True)
class Plan:
    """How a model is split. ``dp`` defaults to devices / (tp x pp).

    ``zero``: 0 none; 1 optimizer state sharded over dp (Megatron's distributed
    optimizer: gradients reduce-scattered, updated weights all-gathered); 2 + gradients;
    3 + weights (gathered layer by layer for the forward and the backward pass).
    ``recompute``: ``full``, ``selective`` or ``none`` (``True``/``False`` mean full/none).
    ``sequence_parallel``: the parts tensor parallelism leaves replicated (layer norms,
    dropout) are split over the sequence; each TP all-reduce becomes an all-gather and a
    reduce-scatter of the same bytes. ``virtual_stages``: model chunks per pipeline stage
    (Megatron's interleaved 1F1B; the bubble shrinks by this factor).
    ``microbatch``: samples per microbatch (default 1 for transformers; a CNN's default
    is its whole share of the batch). ``bucket_bytes``: gradient bucket size.
    ``wafer_mode``: ``auto``, ``pipelined`` or ``weight-streaming``.
    ``free_comm``: communication costs nothing (for unit tests of the model).
    """

    tp: int = 1
    pp: int = 1
    dp: int | None = None
    microbatch: int | None = None
    zero: int = 0
    recompute: str | bool = "full"
    sequence_parallel: bool = False
    virtual_stages: int = 1
    wafer_mode: str = "auto"
    bucket_bytes: float = 25e6
    free_comm: bool = False

    @property
    def recompute_mode(self) -> str:
        return {True: "full", False: "none"}.get(self.recompute, self.recompute)


def bad(field, value, allowed) -> SpecError:
    return SpecError("plan", field, value, allowed)


def as_plan(plan) -> Plan:
    """A ``Plan`` from a Plan, a dict of its fields or None."""
    plan = Plan(**plan) if isinstance(plan, dict) else (plan or Plan())
    if plan.recompute_mode not in RECOMPUTE:
        raise bad("recompute", plan.recompute, "full, selective or none")
    return replace(plan, recompute=plan.recompute_mode)


def layout(spec, model: ModelSpec, plan: Plan, n: int) -> Plan:
    """Check the plan against the device count and the model; fill dp and microbatch."""
    plan = as_plan(plan)
    for name in ("tp", "pp", "virtual_stages"):
        v = getattr(plan, name)
        if not isinstance(v, int) or v < 1:
            raise bad(name, v, "a whole number >= 1")
    if plan.zero not in (0, 1, 2, 3):
        raise bad("zero", plan.zero, "0, 1, 2 or 3")
    wafer = spec.topology.kind == "wafer"
    if not model.is_transformer and (plan.tp > 1 or plan.pp > 1):
        raise bad("tp", (plan.tp, plan.pp), f"{model.id} is a CNN: data parallel only (tp = pp = 1)")
    if plan.pp * plan.virtual_stages > model.layers:
        raise bad("pp", plan.pp, f"pp x virtual_stages at most {model.layers} (the model's layers)")
    if plan.virtual_stages > 1 and plan.pp < 2:
        raise bad("virtual_stages", plan.virtual_stages, "1 unless pp > 1 (interleaving splits pipeline stages)")
    if wafer and plan.tp != 1:
        raise bad("tp", plan.tp, "1 on a wafer (tensors are split across cores inside the wafer)")
    used = plan.tp * (1 if wafer else plan.pp)
    dp = plan.dp if plan.dp is not None else n // used
    if dp < 1 or used * dp != n:
        what = "tp" if wafer else "tp x pp"
        raise bad("dp", plan.dp, f"{what} x dp must equal the {n} devices ({what} = {used})")
    if dp > model.batch:
        raise bad("dp", dp, f"at most the global batch ({model.batch}) replicas")
    mb = plan.microbatch if plan.microbatch is not None else (1 if model.is_transformer else model.batch // dp)
    if mb < 1 or mb * dp > model.batch:
        raise bad("microbatch", mb, f"1 to batch / dp = {model.batch // dp}")
    return replace(plan, dp=dp, microbatch=mb)


def microbatch_count(model: ModelSpec, plan: Plan, n_devices: int) -> int:
    """Microbatches each pipeline runs per iteration: ``ceil(batch / (dp x microbatch))``."""
    from sim_core.spec.models import load_model
    model = load_model(model)
    dp = plan.dp or max(1, n_devices // (plan.tp * plan.pp))
    mb = plan.microbatch or (1 if model.is_transformer else max(1, model.batch // dp))
    return -(-model.batch // (dp * mb))


def stage_layers(model: ModelSpec, plan: Plan) -> list[int]:
    """Layers of each of the ``pp x virtual_stages`` model chunks, in pipeline order.

    Even when the layers divide evenly; otherwise the first and the last chunk (which also
    hold the embedding and the output layer) take the fewer layers, as the Llama 3 run did
    (Llama Team 2024, arXiv 2407.21783, section 3.3.2).
    """
    k = plan.pp * plan.virtual_stages
    base, extra = divmod(model.layers, k)
    out = [base] * k
    if extra:
        inner = list(range(1, k - 1)) if k > 2 else list(range(k))
        for i in range(extra):
            out[inner[i % len(inner)]] += 1
    return out


def device(plan: Plan, tp_rank: int, dp_rank: int, stage: int) -> int:
    """Megatron's order: tp fastest, then dp, then pipeline stage."""
    return tp_rank + plan.tp * (dp_rank + plan.dp * stage)


WAFER_TILES = (16, 16)
"""Tiles of a wafer in a training fabric: one region per pipeline stage (see ``rank_node``)."""


def rank_node(fab, plan: Plan, tp_rank: int, dp_rank: int, stage: int) -> int:
    """The fabric node rank ``(tp_rank, dp_rank, stage)`` runs on: its device's hub.

    On a wafer a device is a whole wafer (one per data-parallel replica) and a pipeline
    stage is a region of it: stage ``k`` runs on the ``k``-th tile of a snake walk over
    the wafer's tiles, so consecutive stages are mesh neighbours and activations cross
    one on-wafer link (stages share tiles when there are more stages than tiles).
    """
    if fab.spec is not None and fab.spec.topology.kind == "wafer":
        rows, cols = fab.tile_rows, fab.tile_cols
        r, c = divmod(stage % (rows * cols), cols)
        return fab.tile_id(dp_rank, r, c if r % 2 == 0 else cols - 1 - c)
    return fab.device_node(device(plan, tp_rank, dp_rank, stage))


def fabric_for(spec, nodes=None, dims=None, wafers=None, tiles=None, source: str = "size"):
    """The fabric of ``spec`` at a size; devices are what training needs, so each chip is
    one tile unless ``tiles`` says. A wafer gets 16 x 16 tiles: its pipeline stages run on
    regions (``rank_node``), a tile each for up to 256 stages, as the app draws it.
    ``source`` names where the size came from in error messages."""
    default = WAFER_TILES if spec.topology.kind == "wafer" else (1, 1)
    return sized_fabric(spec, nodes=nodes, dims=dims, wafers=wafers, tiles=tiles or default, source=source)
