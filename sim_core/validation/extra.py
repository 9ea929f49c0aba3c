"""Validation cases that need the collectives and training modules (see ``validation``).

The collectives' closed forms are identities of the engine, not checks against the world:
they are unit tests (tests/test_collectives.py), not ``validate`` rows."""
from __future__ import annotations


def extra_groups():
    from sim_core.validation.calibration import calibration_cases, validation_cases

    groups = [("collective calibration (fitted)", calibration_cases), ("collectives against measurements", validation_cases)]
    try:
        from sim_core.validation.training import training_cases
        groups.append(("training", training_cases))
    except ImportError:
        pass
    return groups
