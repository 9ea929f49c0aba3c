"""Scene files: a story told with the simulator, as data (``scenes/*.toml``).

A scene names one or two panes (an architecture and a workload each, mapped onto
``Scenario``), a *study* (a named experiment in ``studies.py`` that produces the scene's
numbers from the engine at run time), a *check* (the scene's own assertion over those
numbers) and a list of narrative *beats*. Nothing numeric that is shown comes from the
file: the file only says what to run.

Versions: ``schema_version = 2`` (current) has a ``panes`` list (one, or two side by
side). Version 1 had a single pane's fields at the top level; ``migrate_v1`` lifts them
into ``panes[0]`` so old files keep loading (fixture: ``tests/fixtures/scene_v1.toml``).

Errors are ``SpecError``s naming the file, the key path (``beats[3].set.nbytes``) and
what is allowed.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sim_core import SpecError
from sim_core.spec.loader import read_toml, spec_error_from_validation

SCHEMA_VERSION = 2
SUPPORTED_VERSIONS = (1, 2)
EVENTS = ("time", "round")
PARAM_KEYS = {  # workload kind -> parameters a scene may set (the workload validates values)
    "noc": ("pattern", "rate", "packet_flits"),
    "transfer": ("src", "dst", "nbytes"),
    "collective": ("op", "algo", "nbytes", "channels"),
    "training": ("params", "tokens_per_device", "algo", "channels"),
}
Param = Union[bool, int, float, str]

_STRICT = ConfigDict(extra="forbid", strict=True, frozen=True)


class Pane(BaseModel):
    """One architecture running one workload (becomes a ``Scenario``)."""

    model_config = _STRICT
    label: str = Field("", max_length=120, description="Short name shown above the pane (default: the preset's name).")
    architecture: str = Field(max_length=300, description="Preset id (dgx-a100, wafer-wse2, ...) or a TOML path "
                              "relative to the scene file.")
    size: int | None = Field(None, ge=1, le=256, description="Servers (cluster) or wafers; default: the preset's.")
    dims: list[int] | None = Field(None, min_length=1, max_length=3, description="Torus shape, e.g. [4, 4, 4].")
    tiles: list[int] | None = Field(None, min_length=2, max_length=2, description="Cores drawn per chip, [rows, cols].")
    workload: Literal["noc", "transfer", "collective", "training"] = Field(description="What runs on the fabric.")
    params: dict[str, Param] = Field(default_factory=dict, description="Workload parameters (see PARAM_KEYS).")
    chunk_bytes: int = Field(8192, ge=1, le=1 << 30, description="Bytes per chunk (the unit a link serializes).")
    sim_rate_s: float = Field(0.0, ge=0.0, le=10.0, description="Simulated seconds shown per wall second at 1x "
                              "(0: from the slowest link).")
    seed: int = Field(0, ge=0, le=2 ** 31 - 1, description="Random seed (same seed, same animation).")

    @field_validator("dims", "tiles")
    @classmethod
    def _positive(cls, v):
        if v is not None and not all(1 <= x <= 1024 for x in v):
            raise ValueError("each entry 1 to 1024")
        return v

    @model_validator(mode="after")
    def _known_params(self):
        allowed = PARAM_KEYS[self.workload]
        for k in self.params:
            if k not in allowed:
                raise ValueError(f"params.{k}: not a parameter of workload {self.workload!r}; allowed: "
                                 f"{', '.join(allowed)}")
        return self


class Run(BaseModel):
    """How long a beat runs: simulated seconds, or until the panes finish ``rounds`` rounds."""

    model_config = _STRICT
    until: Literal["time", "round"] = Field("time", description="'time': run for_s simulated seconds; 'round': "
                                            "until every pane's workload finished `rounds` more rounds.")
    for_s: float = Field(0.0, ge=0.0, le=100.0, description="Simulated seconds (until = 'time'); with 'round' "
                         "a cap (0: no cap besides max_wall).")
    rounds: int = Field(1, ge=1, le=100, description="Rounds to wait for (until = 'round').")


class Highlight(BaseModel):
    """What to light up in the view during a beat."""

    model_config = _STRICT
    link_kind: str | None = Field(None, max_length=20, description="Every link of this kind (nvlink, pcie, ...).")
    chip: int | None = Field(None, ge=0, le=1 << 20, description="One chip (device index).")
    path: list[int] | None = Field(None, min_length=2, max_length=2, description="[src device, dst device]: "
                                   "the route between them.")
    core: list[int] | None = Field(None, min_length=2, max_length=2, description="[row, col] of one core of "
                                   "the first chip: the links into and out of it (a hotspot's target).")
    bisection: bool = Field(False, description="The on-chip links that cross the middle of the first chip's mesh "
                            "(left half to right half), with a live count of how busy they are.")


class Beat(BaseModel):
    """One step of the story."""

    model_config = _STRICT
    text: str = Field(max_length=600, description="What the presenter says (short Markdown); `{value}` or "
                      "`{value:.1f}` is replaced by a number the study computed.")
    set: dict[str, Param] = Field(default_factory=dict, description="Workload parameter changes for every pane.")
    run: Run = Field(default_factory=Run, description="How long the beat runs.")
    highlight: Highlight = Field(default_factory=Highlight, description="What to light up.")
    reveal: int = Field(-1, ge=-1, le=1000, description="Rows of the study's table shown (-1: all).")


class View(BaseModel):
    model_config = _STRICT
    plots: list[Literal["utilization", "inflight", "rate", "heatmap"]] = Field(
        default_factory=lambda: ["utilization", "rate"], description="Live plots shown beside the view.")
    chart: Literal["bars", "ratio-bars", "stacked", "log-bars", "curve", "timeline", "none"] = Field(
        "bars", description="How the study's numbers are drawn: bars; ratio-bars (linear, each bar also as a "
        "multiple of the first); stacked (one bar per machine, its parts stacked); log-bars; curve (x, y per "
        "group); timeline (year against a log axis, with a least-squares line).")
    chart_width: float = Field(0.36, ge=0.2, le=0.7, description="Share of the window's width the chart gets "
                               "(the panes get the rest); dense charts need more.")


class Check(BaseModel):
    """The scene's assertion: study value ``value`` must be within [at_least, at_most]."""

    model_config = _STRICT
    value: str = Field(max_length=80, description="Name of a value the study (or the panes) computes.")
    at_least: float | None = Field(None, allow_inf_nan=False, description="Lower bound (inclusive).")
    at_most: float | None = Field(None, allow_inf_nan=False, description="Upper bound (inclusive).")
    says: str = Field("", max_length=200, description="The claim, in plain words for the audience, shown with "
                      "the measured value.")
    shown_as: Literal["number", "ratio", "share", "months"] = Field(
        "number", description="How the measured value is written: 367x (ratio), 17% (share), 3.2 months.")


class Scene(BaseModel):
    """A scene file (current version)."""

    model_config = _STRICT
    schema_version: Literal[2] = Field(description="File format version (1 still loads).")
    title: str = Field(max_length=80, description="Shown as the scene's heading.")
    point: str = Field(max_length=200, description="The one-line point the scene makes.")
    order: int = Field(100, ge=0, le=1000, description="Position in the scene browser.")
    panes: list[Pane] = Field(min_length=1, max_length=2, description="One pane, or two side by side in lock-step.")
    study: str = Field("none", max_length=40, description="Named experiment producing the numbers (studies.py).")
    study_params: dict[str, Union[Param, list[int], list[float], list[str], list[list[int]]]] = Field(
        default_factory=dict, description="Arguments of the study.")
    check: Check | None = Field(None, description="The scene's own assertion, evaluated at run time.")
    view: View = Field(default_factory=View, description="Plots and chart.")
    beats: list[Beat] = Field(min_length=1, max_length=50, description="The narrative, in order.")


def migrate_v1(doc: dict) -> dict:
    """Version 1 -> 2: the single pane's fields move from the top level into ``panes[0]``."""
    out = {k: v for k, v in doc.items() if k not in Pane.model_fields}
    out["panes"] = [{k: v for k, v in doc.items() if k in Pane.model_fields}]
    out["schema_version"] = 2
    return out


def parse_scene(doc: dict, source: str) -> Scene:
    version = doc.get("schema_version")
    if version not in SUPPORTED_VERSIONS or isinstance(version, bool):
        raise SpecError(source, "schema_version", version if version is not None else "(missing)",
                        f"one of {', '.join(map(str, SUPPORTED_VERSIONS))}")
    if version == 1:
        doc = migrate_v1(doc)
    try:
        scene = Scene.model_validate(doc)
    except ValidationError as exc:
        raise _scene_error(source, exc, doc) from None
    _check_names(scene, source)
    check_scene_paths(scene, source)
    return scene


_TYPE_TAGS = {"bool", "int", "float", "str"}


def _scene_error(source: str, exc: ValidationError, doc: dict) -> SpecError:
    err = exc.errors(include_url=False)[0]
    loc = []
    for part in err["loc"]:
        if str(part) in _TYPE_TAGS or str(part).startswith(("list[", "function-")):
            continue  # pydantic's union member tags, not keys of the file
        if isinstance(part, int) and loc:
            loc[-1] += f"[{part}]"
        else:
            loc.append(str(part))
    se = spec_error_from_validation(source, exc, doc)
    msg = err["msg"].removeprefix("Value error, ")
    if msg.startswith("params.") and ":" in msg:  # a params key named by the model validator
        key, _, rest = msg.partition(":")
        return SpecError(source, ".".join(loc + [key]), key.split(".", 1)[1], rest.strip())
    return SpecError(source, ".".join(loc) or "(document)", se.value, se.allowed)


def _check_names(scene: Scene, source: str) -> None:
    from app.model.studies import STUDIES
    if scene.study not in STUDIES:
        raise SpecError(source, "study", scene.study, f"one of {', '.join(STUDIES)}")
    from app.model.scenario import check_params  # values: the same limits the parameter panel and rebuilds use
    kinds = {p.workload for p in scene.panes}
    allowed = sorted({k for kind in kinds for k in PARAM_KEYS[kind]})
    for i, pane in enumerate(scene.panes):
        check_params(source, pane.params, f"panes[{i}].params")
    for i, beat in enumerate(scene.beats):
        for k in beat.set:
            if k not in allowed:
                raise SpecError(source, f"beats[{i}].set.{k}", beat.set[k], f"a workload parameter: {', '.join(allowed)}")
        check_params(source, beat.set, f"beats[{i}].set")


STUDY_ARCH_KEYS = ("architecture", "preset", "presets")


def allowed_roots(scene_dir: Path) -> list[Path]:
    """Folders a scene may read files from: its own folder and the shipped presets."""
    from importlib import resources
    return [scene_dir.resolve(), Path(str(resources.files("sim_core.spec") / "presets")).resolve()]


def check_scene_paths(scene: Scene, source: str) -> None:
    """Refuse file paths that leave the scene's folder (``../../etc/passwd``, ``/home/x.toml``).

    A pane's ``architecture`` is a preset id or a ``.toml`` path resolved against the scene's
    folder (as ``scene_runner`` does); after resolving symlinks it must lie in
    ``allowed_roots``. Studies resolve names against the working directory, so their
    architecture parameters must be preset ids.
    """
    from sim_core import preset_ids
    presets = preset_ids()
    roots = allowed_roots(Path(source).parent)
    for i, pane in enumerate(scene.panes):
        arch = pane.architecture
        if arch in presets:
            continue
        where = f"panes[{i}].architecture"
        if not arch.endswith(".toml"):
            raise SpecError(source, where, arch, f"a preset id ({', '.join(presets)}) or a .toml file path")
        try:
            target = (Path(source).parent / arch).resolve()
        except (OSError, ValueError, RuntimeError):  # NUL bytes, symlink loops
            target = Path("/nonexistent-invalid")
        if not any(target.is_relative_to(r) for r in roots):
            raise SpecError(source, where, arch, "a .toml file inside the scene's folder or the shipped presets "
                            "(scenes cannot read files elsewhere)")
    for key in STUDY_ARCH_KEYS:
        value = scene.study_params.get(key)
        names = value if isinstance(value, list) else [value]
        for j, name in enumerate(names):
            if value is not None and name not in presets:
                field = f"study_params.{key}" + (f"[{j}]" if isinstance(value, list) else "")
                raise SpecError(source, field, name, f"a preset id: {', '.join(presets)} (studies read no files)")


def shipped_scenes() -> dict[str, Path]:
    """Shipped scene names (file stems) -> paths, in browser order.

    Scene files start with their number (``4-congestion.toml``); other TOML files in the
    folder are architectures the scenes use (``noc-lab-16x16.toml``).
    """
    from app.paths import scenes_dir
    files = sorted((f for f in scenes_dir().glob("*.toml") if f.name[:1].isdigit()),
                   key=lambda f: (int(f.name.split("-", 1)[0]) if f.name.split("-", 1)[0].isdigit() else 0, f.name))
    return {f.stem: f for f in files}


def resolve_scene_path(name_or_path: str) -> Path:
    """A path to a scene file, or the name of a shipped scene (``leaving-the-chip``, ``1``)."""
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists():
        return p
    ships = shipped_scenes()
    for stem, path in ships.items():
        if name_or_path in (stem, stem.split("-", 1)[-1]) or stem.startswith(f"{name_or_path}-"):
            return path
    raise SpecError("--scene", "scene", name_or_path, "a scene file path or a shipped scene: " + ", ".join(ships))


def load_scene(name_or_path: str | Path) -> Scene:
    path = resolve_scene_path(str(name_or_path))
    return parse_scene(read_toml(path), str(path))
