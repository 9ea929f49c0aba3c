"""Regenerate every document that is built from the code: ``python -m tools.refresh_docs``.

* docs/reference/architecture-schema.md and docs/reference/scene-schema.md, from the schemas;
* the validation table in docs/guide.md (between its marker lines), from ``validate``.

Tests fail when a committed copy differs from what this writes, so the docs cannot drift.
"""
from __future__ import annotations

import sys
from pathlib import Path

from sim_core.atomic_io import write_atomic

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    from sim_core.spec.schema_doc import architecture_reference
    from sim_core.validation import report
    from sim_core.validation.cases import all_cases

    from app.scenes.doc import scene_reference

    write_atomic(ROOT / "docs/reference/architecture-schema.md", architecture_reference())
    write_atomic(ROOT / "docs/reference/scene-schema.md", scene_reference())
    rows = all_cases(progress=lambda msg: print(msg, file=sys.stderr, flush=True))
    guide = ROOT / "docs/guide.md"
    write_atomic(guide, report.splice(guide.read_text(), report.markdown(rows)))
    print(report.summary(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
