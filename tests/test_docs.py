"""Generated references stay identical to the code that defines the formats."""
import pathlib

from sim_core.spec.schema_doc import architecture_reference

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_architecture_reference_matches_the_schema():
    committed = (ROOT / "docs" / "reference" / "architecture-schema.md").read_text()
    assert committed == architecture_reference(), "run: python -m sim_core.spec.schema_doc > docs/reference/architecture-schema.md"
