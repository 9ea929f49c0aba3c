"""Load architecture files: preset ids or TOML paths, validated into ``ArchitectureSpec``.

Nothing in a file is executed: TOML is parsed by ``tomllib`` (data only) and every value
is checked by the pydantic schema in ``specs.py``. Any problem becomes one ``SpecError``.
"""
from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from sim_core.errors import SpecError
from sim_core.spec import toml_writer
from sim_core.spec.schema import SCHEMA_VERSION, ArchitectureSpec, FieldValueError

MAX_FILE_BYTES = 1_000_000


def preset_ids() -> list[str]:
    """Ids of the shipped presets, sorted."""
    folder = resources.files("sim_core.spec") / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def _preset_text(preset_id: str) -> str:
    return (resources.files("sim_core.spec") / "presets" / f"{preset_id}.toml").read_text("utf-8")


def read_toml(source: str | Path, data: bytes | None = None) -> dict:
    """Parse a TOML document, turning every failure into a ``SpecError`` naming the file."""
    name = str(source)
    if data is None:
        path = Path(source)
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise SpecError(name, "(file)", f"{path.stat().st_size} bytes", f"files up to {MAX_FILE_BYTES} bytes")
            data = path.read_bytes()
        except OSError as exc:
            raise SpecError(name, "(file)", name, f"a readable file ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(name, "(file)", f"byte {exc.start}", "UTF-8 text") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(name, "(file)", str(exc), "a TOML document") from None
    except RecursionError:
        raise SpecError(name, "(file)", "deeply nested arrays or tables", "a TOML document nested a few levels deep") from None
    if not doc:
        raise SpecError(name, "(file)", "empty", f"a TOML document with schema_version = {SCHEMA_VERSION}")
    return doc


def spec_error_from_validation(source: str, exc: ValidationError, doc: dict) -> SpecError:
    """The first pydantic error as a ``SpecError`` with a dotted field path."""
    err = exc.errors(include_url=False)[0]
    cause = (err.get("ctx") or {}).get("error")
    if isinstance(cause, FieldValueError):
        return SpecError(source, cause.field, cause.value, cause.rule)
    loc = [str(p) for p in err["loc"] if str(p) not in ("cluster", "torus", "wafer", "function-after[_links_exist(), ArchitectureSpec]")]
    field = ".".join(loc) or "(document)"
    value = err.get("input")
    if isinstance(value, dict) and err["type"] != "missing":
        value = "{...}"
    allowed = err["msg"]
    if err["type"] == "extra_forbidden":
        allowed = "not a known field (unknown key)"
    elif err["type"] == "missing":
        value = "(missing)"
        allowed = "this field is required"
    elif err["type"] == "value_error":
        allowed = allowed.removeprefix("Value error, ")
    return SpecError(source, field, value, allowed)


def parse_architecture(doc: dict, source: str) -> ArchitectureSpec:
    """Validate a parsed document as an architecture."""
    version = doc.get("schema_version")
    if version != SCHEMA_VERSION:
        raise SpecError(source, "schema_version", version if version is not None else "(missing)",
                        f"schema_version = {SCHEMA_VERSION}")
    try:
        return ArchitectureSpec.model_validate(doc)
    except ValidationError as exc:
        raise spec_error_from_validation(source, exc, doc) from None


def load_architecture(source: str | Path) -> ArchitectureSpec:
    """A preset id (``dgx-a100``) or the path of a TOML architecture file."""
    text_source = str(source)
    if text_source in preset_ids():
        doc = tomllib.loads(_preset_text(text_source))
        return parse_architecture(doc, f"preset {text_source}")
    path = Path(text_source)
    if not path.suffix and not path.exists():
        raise SpecError(text_source, "--arch", text_source,
                        "a preset id (" + ", ".join(preset_ids()) + ") or the path of a .toml file")
    return parse_architecture(read_toml(path), text_source)


def architecture_to_toml(spec: ArchitectureSpec) -> str:
    """Serialize a spec back to TOML (round-trips through ``load_architecture``)."""
    return toml_writer.dumps(spec.model_dump(mode="json"))
