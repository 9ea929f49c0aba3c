"""Generated references stay identical to the code that defines the formats."""
import pathlib

from sim_core.spec.schema_doc import architecture_reference

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_architecture_reference_matches_the_schema():
    committed = (ROOT / "docs" / "reference" / "architecture-schema.md").read_text()
    assert committed == architecture_reference(), "run: python -m sim_core.spec.schema_doc > docs/reference/architecture-schema.md"


def test_the_guides_validation_table_is_what_validate_prints():
    from sim_core.validation import report
    from sim_core.validation.cases import all_cases
    guide = (ROOT / "docs" / "guide.md").read_text()
    assert report.splice(guide, report.markdown(all_cases())) == guide, "run: python -m tools.refresh_docs"
