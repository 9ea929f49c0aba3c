"""The training rows of ``validate``: fitted cases apart from independent ones, 10% each."""
from __future__ import annotations

import numpy as np
import pytest

from sim_core.spec.loader import load_architecture
from sim_core.validation.training import TOLERANCE, _sse, training_cases
from sim_core.workloads.training.efficiency import GEMM_KERNEL_S


@pytest.fixture(scope="module")
def rows():
    return training_cases()


def test_every_training_row_is_labelled_sourced_and_within_ten_percent(rows):
    assert TOLERANCE == 0.10
    for r in rows:
        assert r["name"].startswith(("calibration (fitted): ", "independent: ")), r["name"]
        assert r["source"] and r["tolerance"] == TOLERANCE
        assert r["ok"], (r["name"], r["error"])
    assert sum(r["name"].startswith("independent") for r in rows) >= 3
    assert np.median([abs(r["error"]) for r in rows]) <= 0.05
    assert not any(r["expected"] == 138.0 for r in rows)  # not a 175B measurement


def test_identities_of_the_model_are_not_validation_rows(rows):
    names = " ".join(r["name"] for r in rows).lower()
    assert "free communication" not in names and "8tp/(nx)" not in names and "bubble" not in names


def test_the_gemm_parameters_in_use_are_the_least_squares_fit():
    # the fit's grid steps: 0.005 of ceiling, 1 us of kernel time
    ceiling = load_architecture("dgx-a100").chip.compute_efficiency
    cache, fabrics = {}, {}

    def sse(c, k):
        return _sse({"ceiling": c, "kernel_s": k}, cache, fabrics)[0]

    best = sse(ceiling, GEMM_KERNEL_S)
    for dc, dk in ((0.005, 0), (-0.005, 0), (0, 1e-6), (0, -1e-6)):
        if GEMM_KERNEL_S + dk >= 0:
            assert best <= sse(ceiling + dc, GEMM_KERNEL_S + dk) + 1e-12
