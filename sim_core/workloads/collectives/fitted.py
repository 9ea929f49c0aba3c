"""The free parameters of the collective model, fitted on published measurements.

Everything else the collectives use is a sourced input: link rates and payload shares
from the presets, NCCL's tables (``tuning``), its buffer and slice sizes. These few
numbers are not published anywhere; they were fitted with
``python -m sim_core.validation.calibration --fit`` on the cases named in ``FITTED_ON``
(least squares of the relative busbw error) and are reported as fitted by ``validate``.
"""
from __future__ import annotations

STEP_LATENCY_SCALE = 0.0
"""Multiplies NCCL's per-step hardware latency (``tuning.HW_LATENCY_US``) to give the delay
each step's messages wait before they start; the engine adds the links' own latency.
Fitted to 0: the links' latencies on a step's route (0.7 us through an NVSwitch) already
carry what NCCL tabulates per step (0.6 us for LL on NVLink), so the small all-reduces need
nothing on top."""

LAUNCH_LATENCY_SCALE = 1.013
"""Multiplies NCCL's launch latency (``tuning.BASE_LATENCY_US``): the delay before the
first step (kernel launch and the first flag exchange). Fitted to 1.01: NCCL's table as it is."""

SIMPLE_WIRE_EFFICIENCY = 0.9968
"""Share of the link the Simple protocol turns into payload (its per-slice flag and fence)."""

NVLS_LATENCY_S = 4.96e-05
"""Delay before the first NVLS segment (``multimem`` setup through the switch); later
segments are pipelined behind it. NCCL's table says 25 us; the measured mid sizes (16 to
256 MiB) ask for about twice that."""

FITTED_ON = (
    "8x A100, ring, 4 GiB", "8x H100, ring, 4 GiB", "4x..8x H100, default (NVLS), 2 GiB",
    "8x H100-class, default, 32 KiB / 1 MiB / 16 MiB / 64 MiB / 256 MiB / 16 GiB",
    "4 DGX A100 nodes (32 GPUs), default, 1 GB", "2 DGX H100 nodes, ring, 1 GB, busbw per NDR NIC",
)
"""Names of the calibration cases the values above were fitted on."""
