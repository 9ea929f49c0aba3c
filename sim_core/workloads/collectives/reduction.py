"""The one place the arithmetic of a reduction is costed.

Adding a received buffer to the local one reads two operands and writes the sum: three
bytes of memory traffic per byte reduced, a memory-bound kernel. A tile of a chip drawn as
R x C tiles has 1/(R C) of the chip's memory bandwidth. In-switch reduction (NVLS) and
in-network reduction (SHARP) cost the GPUs nothing.
"""
from __future__ import annotations

import numpy as np

from sim_core.fabric.arrays import TILE

BYTES_TOUCHED_PER_BYTE = 3.0
"""Read both operands, write the sum."""


def reduction_s_per_byte(fabric, node: int) -> float:
    """Seconds per byte reduced on ``node`` (a device hub or one tile); 0 without a spec."""
    spec = fabric.spec
    if spec is None:
        return 0.0
    bw = spec.chip.memory_bandwidth_Bps
    if fabric.node_kind[node] == TILE:
        bw /= fabric.tile_rows * fabric.tile_cols
    return BYTES_TOUCHED_PER_BYTE / bw


def exposed_bytes(message_bytes, slice_bytes: float | None):
    """Bytes whose reduction delays the next send: NCCL reduces slice by slice as data
    streams in, so only the last slice's reduction is exposed; without a pipelining
    library (``slice_bytes`` None) the whole message is reduced before it is sent on."""
    m = np.asarray(message_bytes, dtype=np.float64)
    return m if slice_bytes is None else np.minimum(m, float(slice_bytes))
