"""The glossary, as data: terms a scene or a label uses, explained in a sentence or two.

``terms_in(text)`` finds the glossary terms a piece of text mentions; ``tooltip_for(text)``
is the tooltip every label with such terms carries (so a term is explained wherever it appears).
"""
from __future__ import annotations

import re

GLOSSARY = {
    "NVLink": "NVIDIA's GPU-to-GPU link: 12 links x 25 GB/s per direction on an A100 (300 GB/s), "
              "about 10x PCIe Gen4 x16.",
    "NVSwitch": "A switch chip joining every GPU of a DGX server at full NVLink rate; on H100 it can also "
                "reduce data in the switch (NVLink SHARP).",
    "PCIe": "The host bus: 32 GB/s per direction for Gen4 x16. Without NVLink, GPUs talk through PCIe "
            "switches and the CPU.",
    "InfiniBand": "The data-centre network of most GPU clusters: 200 Gb/s (HDR) or 400 Gb/s (NDR) per port, "
                  "one port per GPU on a DGX, with RDMA.",
    "RDMA": "Remote direct memory access: the network card reads and writes the other machine's memory "
            "without its CPU, so a message costs microseconds instead of tens of microseconds.",
    "ICI": "Inter-chip interconnect of TPUs: six links per TPU v4 chip (~50 GB/s each way) forming a 3D torus.",
    "torus": "A mesh whose edges wrap around, so every chip has the same number of neighbours and the "
             "longest path halves.",
    "bisection bandwidth": "The bandwidth across the narrowest cut that splits the machine in two halves; "
                           "all-to-all traffic cannot go faster than it.",
    "all-reduce": "Every device ends with the sum of everyone's tensor (the gradients in data-parallel "
                  "training). Ring, tree, halving/doubling and torus algorithms do it.",
    "bus bandwidth": "nccl-tests' figure for a collective: bytes / time x 2(p-1)/p for all-reduce, comparable "
                     "to the link bandwidth whatever the number of devices.",
    "pipeline bubble": "The idle time of a pipeline of p stages while it fills and drains: (p-1)/m of the "
                       "time for m microbatches.",
    "wafer-scale": "One chip made of a whole silicon wafer (Cerebras): 850,000 cores and 40 GB of SRAM "
                   "joined by an on-wafer mesh, so most traffic never leaves the chip.",
    "weight streaming": "Keeping weights off the wafer and streaming them in layer by layer, so a model "
                        "larger than on-chip memory still trains on one wafer.",
    "petaflop/s-day": "1e15 operations per second for a day: about 8.6e19 operations.",
    "head-of-line blocking": "A packet waiting for a busy link also blocks the packets queued behind it, "
                             "even those going elsewhere.",
}
_PATTERNS = {t: re.compile(r"\b" + re.escape(t).replace(r"\-", "[- ]") + r"s?\b", re.I) for t in GLOSSARY}


def terms_in(text: str) -> list[str]:
    """Glossary terms mentioned in ``text`` (case-insensitive, plural allowed), in glossary order."""
    return [t for t, pat in _PATTERNS.items() if pat.search(text or "")]


def tooltip_for(text: str) -> str:
    """Rich-text tooltip explaining every glossary term in ``text`` ('' if none)."""
    terms = terms_in(text)
    return "<br>".join(f"<b>{t}</b>: {GLOSSARY[t]}" for t in terms)
