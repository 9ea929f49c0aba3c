"""The collectives' public names in one import (the package ``__init__`` re-exports them).

Where each part lives: ``catalogue`` (operations, algorithms), ``programs`` (steps of
transfers), ``topology`` (servers, switches, rails), ``tuning`` (NCCL's tables),
``selection`` (NCCL's choice), ``protocols`` (slices, wire overhead, delays),
``reduction`` (the cost of adding), ``schedule`` (choosing and building the pieces), ``layout``
(laying them on the engine as arrays) and
``run`` (one collective alone, reported as nccl-tests does).
"""
from __future__ import annotations

from sim_core.workloads.collectives.catalogue import ALGORITHMS, BUSBW_FACTOR, NO_PROTOCOL, OPS, SUPPORTED
from sim_core.workloads.collectives.reduction import reduction_s_per_byte
from sim_core.workloads.collectives.run import collective_engine, run_collective
from sim_core.workloads.collectives.schedule import CollectiveHandle, schedule_collective
from sim_core.workloads.collectives.selection import (Choice, TopologyFacts, choose, choose_algorithm, choose_for,
                                                      collective_lanes, topology_facts)
from sim_core.workloads.collectives.topology import like_for_like, rank_grid, server_groups

__all__ = ["ALGORITHMS", "BUSBW_FACTOR", "NO_PROTOCOL", "OPS", "SUPPORTED", "Choice", "CollectiveHandle",
           "TopologyFacts", "choose", "choose_algorithm", "choose_for", "collective_engine", "collective_lanes",
           "like_for_like", "rank_grid", "reduction_s_per_byte", "run_collective", "schedule_collective", "server_groups",
           "topology_facts"]
