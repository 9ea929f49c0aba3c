"""Suite-wide settings. Hypothesis draws the same examples on every run (derandomize), so a
red CI run is always reproducible; open-ended exploration is the fuzz commands' job
(`python -m tools.fuzz_architectures`, `python -m tools.fuzz_scenes`, `python -m tools.fuzz_cli`)."""
from hypothesis import settings

settings.register_profile("meshscope", derandomize=True, deadline=None, print_blob=True)
settings.load_profile("meshscope")

import gc

import pytest


@pytest.fixture(autouse=True)
def _free_simulations_between_tests():
    """Windows and engines of a finished test hold gigabytes (training schedules); collect them
    before the next test so one process never holds two tests' simulations."""
    yield
    gc.collect()
