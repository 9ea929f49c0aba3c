"""Save what the main window shows as a scene file that reopens to the same picture.

``scene_from_simulation`` maps the running ``Scenario`` onto the scene schema (one pane,
the same architecture, size, workload, parameters and seed) with one beat that runs to
the current simulated time: the engine is deterministic, so reopening the file and
running its beat gives the same numbers. The document is validated by ``Scene`` (the
schema the loader uses) and written atomically (``sim_core.atomic_io.write_atomic``).

Scenario settings the schema cannot say (off-chip scaling, buffer depth) are refused by
name rather than silently dropped.
"""
from __future__ import annotations

from pathlib import Path

from sim_core import SpecError, preset_ids
from sim_core.atomic_io import write_atomic
from sim_core.spec import toml_writer

from app.scenes.spec import SCHEMA_VERSION, Scene, parse_scene

MAX_RUN_S = 100.0  # Run.for_s's upper bound
UNSAVED = {"offchip_bandwidth_scale": 1.0, "offchip_latency_scale": 1.0, "buffer_chunks": 4}


def scene_from_simulation(sim, title: str, path: str | Path) -> Scene:
    """A one-pane ``Scene`` that rebuilds ``sim``'s scenario and runs it to its current time."""
    sc = sim.scenario
    for key, default in UNSAVED.items():
        if getattr(sc, key) != default:
            raise SpecError(str(path), key, getattr(sc, key), f"{default} (scene files cannot set {key} yet)")
    arch = sc.architecture
    if arch not in preset_ids():
        arch = _relative_architecture(arch, Path(path))
    now = float(sim.engine.now_s)
    if not (0.0 <= now <= MAX_RUN_S):
        raise SpecError(str(path), "time", now, f"0 to {MAX_RUN_S:g} simulated seconds")
    kind = sim.spec.topology.kind
    pane = dict(label=sc.title[:120], architecture=arch, workload=sc.workload, params=_params(sc),
                chunk_bytes=int(sc.chunk_bytes), sim_rate_s=float(sim.sim_rate_s), seed=int(sc.seed))
    if kind == "torus":
        pane["dims"] = list(sc.dims) if sc.dims else list(sim.fabric.torus_dims)
    else:
        pane["size"] = int(sc.size) if sc.size else (sim.fabric.n_chips // sim.spec.topology.chips_per_node
                                                    if kind == "cluster" else sim.fabric.n_chips)
    pane["tiles"] = [int(sim.fabric.tile_rows), int(sim.fabric.tile_cols)]
    doc = dict(schema_version=SCHEMA_VERSION, title=title[:80] or "Saved scene",
               point=f"Saved from the main window at t = {now:.6g} s: {sc.title}"[:200], panes=[pane],
               beats=[dict(text=f"Runs to t = {now:.6g} s, where the picture was saved.",
                           run=dict(until="time", for_s=now))])
    return parse_scene(doc, str(path))


def _params(sc) -> dict:
    """The workload's own parameters (the panel also writes every other workload's)."""
    from app.scenes.spec import PARAM_KEYS
    keep = PARAM_KEYS.get(sc.workload, ())
    return {k: v for k, v in sc.params.items() if k in keep and v is not None}


def _relative_architecture(arch: str, path: Path) -> str:
    try:
        return str(Path(arch).resolve().relative_to(path.resolve().parent))
    except ValueError:
        raise SpecError(str(path), "architecture", arch, "a preset, or a TOML file in the scene's folder "
                        "(save the scene next to the architecture file)") from None


def scene_to_toml(scene: Scene) -> str:
    """TOML text of ``scene`` (only fields that differ from the defaults); loads back equal."""
    doc = scene.model_dump(mode="json", exclude_defaults=True)
    doc["schema_version"] = scene.schema_version
    return toml_writer.dumps(doc)


def save_scene(sim, path: str | Path, title: str = "") -> Path:
    """Write ``sim`` as a scene file at ``path`` (atomically); returns the path."""
    path = Path(path)
    scene = scene_from_simulation(sim, title or path.stem.replace("-", " ").capitalize(), path)
    text = scene_to_toml(scene)
    import tomllib
    if parse_scene(tomllib.loads(text), str(path)) != scene:  # the file must say what was shown
        raise SpecError(str(path), "(document)", "round trip", "a scene that loads back unchanged")
    return write_atomic(path, text)

