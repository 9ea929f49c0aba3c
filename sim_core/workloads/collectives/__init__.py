"""Collectives as programs of dependent engine messages (ring, tree, halving/doubling, torus, ...)."""
from sim_core.workloads.collectives.algorithms import *  # noqa: F401,F403
from sim_core.workloads.collectives.algorithms import (ALGORITHMS, BUSBW_FACTOR, OPS, SUPPORTED,  # noqa: F401
                                                       CollectiveHandle, choose_algorithm, run_collective,
                                                       schedule_collective)
