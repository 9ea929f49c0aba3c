"""Validation cases that need the collectives and training modules (see ``validation``)."""
from __future__ import annotations


def collective_cases() -> list[dict]:
    from sim_core.workloads.collectives.forms import crossbar, expected_s
    from sim_core.workloads.collectives.algorithms import collective_engine, schedule_collective
    from sim_core.validation.cases import case

    rows = []
    for op, algo, p, n in (("allreduce", "ring", 8, 4e9), ("allreduce", "ring", 64, 1e6), ("allreduce", "rhd", 16, 1e9),
                           ("allreduce", "rhd", 64, 4e9), ("allreduce", "tree", 8, 1e3), ("allreduce", "tree", 32, 1e9),
                           ("broadcast", "tree", 16, 1e8), ("allgather", "ring", 32, 1e9)):
        fab, ranks = crossbar(p)
        eng = collective_engine(fab, n, p, chunks_per_message=16)
        h = schedule_collective(eng, op, algo, ranks, n)
        eng.run_until_idle(dt_s=1.0)
        rows.append(case(f"{op} {algo}, p={p}, {n:.0e} bytes, one NVSwitch", expected_s(fab, eng, ranks, op, algo, n),
                         h.time_s(eng), source="alpha-beta form (Thakur, Rabenseifner and Gropp 2005)"))
    return rows


def extra_groups():
    groups = [("collectives", collective_cases)]
    try:
        from sim_core.validation.training import training_cases
        groups.append(("training", training_cases))
    except ImportError:
        pass
    return groups
