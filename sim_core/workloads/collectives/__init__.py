"""Collectives as NCCL runs them: programs of dependent engine messages, chosen by NCCL's tables."""
from sim_core.workloads.collectives.algorithms import *  # noqa: F401,F403
from sim_core.workloads.collectives.algorithms import __all__  # noqa: F401
