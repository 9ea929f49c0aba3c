"""The one TOML writer: whatever text a user types into a name, description or beat reloads unchanged."""
import tomllib

from hypothesis import given, settings
from hypothesis import strategies as st

from sim_core import load_architecture
from sim_core.spec import toml_writer
from sim_core.spec.loader import architecture_to_toml, parse_architecture

ANY_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@settings(max_examples=150, deadline=None)
@given(name=ANY_TEXT.filter(lambda s: s.strip()).map(lambda s: s[:120]), description=ANY_TEXT,
       source_key=ANY_TEXT, source=ANY_TEXT)
def test_architectures_with_arbitrary_text_reload_equal(name, description, source_key, source):
    spec = load_architecture("dgx-a100")
    spec = spec.model_copy(update={"name": name, "description": description,
                                   "sources": {**spec.sources, source_key: source}})
    text = architecture_to_toml(spec)
    assert parse_architecture(tomllib.loads(text), "round trip") == spec


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(ANY_TEXT, st.recursive(
    st.one_of(st.booleans(), st.integers(-2**63, 2**63 - 1), st.floats(allow_nan=False, allow_infinity=False), ANY_TEXT),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ANY_TEXT, inner, max_size=3), max_leaves=8),
    max_size=5))
def test_any_document_of_tables_and_arrays_reloads_equal(doc):
    for inline in (False, True):
        assert tomllib.loads(toml_writer.dumps(doc, inline=inline)) == doc


def test_control_characters_and_emoji_are_written_so_they_reload():
    text = "a\rb\x00c\x7fd\te\u2028f 😀 \"q\" \\"
    assert tomllib.loads(toml_writer.dumps({"k": text, "t\nk": {"x": text}})) == {"k": text, "t\nk": {"x": text}}


def test_non_finite_numbers_are_refused_unless_asked_for():
    import math
    import pytest
    with pytest.raises(ValueError, match="finite"):
        toml_writer.dumps({"x": math.inf})
    assert math.isnan(tomllib.loads(toml_writer.dumps({"x": math.nan}, nonfinite=True))["x"])
