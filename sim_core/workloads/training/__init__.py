"""The training-time model: a parallelism plan, compute and simulated communication."""
from sim_core.workloads.training.model import *  # noqa: F401,F403
from sim_core.workloads.training.model import (Plan, auto_plan, compare, estimate, fabric_for,  # noqa: F401
                                               microbatch_count, scaling, schedule_iteration)
