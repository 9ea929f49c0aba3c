"""The training-time model: a parallelism plan, compute from GEMM shapes, simulated communication.

``plan`` (how a model is split), ``memory`` (what a device holds), ``efficiency`` (GEMM
and CNN compute time, the fitted parameters), ``schedule`` (the one definition of an
iteration), ``comm`` (its communications, simulated once each), ``estimate`` (the
schedule timed), ``iteration`` (the schedule laid onto an engine for animation),
``wafer`` (wafer-scale modes), ``plans`` (automatic plans, comparisons, scaling).
"""
from sim_core.workloads.training.estimate import estimate
from sim_core.workloads.training.iteration import IterationHandle, iteration_plan, schedule_iteration
from sim_core.workloads.training.memory import BYTES_PER_PARAM, check_memory, memory_per_device_bytes
from sim_core.workloads.training.plan import Plan, fabric_for, microbatch_count
from sim_core.workloads.training.plans import auto_plan, compare, scaling, size_for_power
from sim_core.workloads.training.schedule import schedule_counts

__all__ = ["BYTES_PER_PARAM", "IterationHandle", "Plan", "auto_plan", "check_memory", "compare", "estimate",
           "fabric_for", "iteration_plan", "memory_per_device_bytes", "microbatch_count", "scaling", "schedule_counts",
           "schedule_iteration", "size_for_power"]
