"""The kinds of link a fabric has: codes (the index into ``LINK_KINDS``) and the names people read."""
from __future__ import annotations

LINK_KINDS = ("noc", "nvlink", "pcie", "infiniband", "ethernet", "ici", "wafer-io", "upi")
"""Every link kind the fabric knows; index = ``Fabric.link_kind`` code."""

LINK_KIND_NAMES = {"noc": "on-chip mesh", "nvlink": "NVLink", "pcie": "PCIe", "infiniband": "InfiniBand",
                   "ethernet": "Ethernet", "ici": "ICI", "wafer-io": "wafer I/O", "upi": "UPI"}
"""Display name of each kind, for labels, legends and charts."""


def display_name(kind: str) -> str:
    """``"infiniband"`` -> ``"InfiniBand"``; an unknown name is shown as it is."""
    return LINK_KIND_NAMES.get(kind, kind)
