"""Run a scene without a window: its panes in lock-step, its beats in order, its check.

``SceneRun`` is Qt-free, so tests, ``--record`` and the window share it. One clock:
``step(dt)`` advances every pane's engine by the same simulated ``dt``. A beat's
``set`` rebuilds the panes with the changed workload parameters (a fresh engine, the
same seed: deterministic). The check reads values the study and the panes computed at
run time, never the file.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sim_core import SpecError

from app.model.scenario import Scenario, build_simulation
from app.scenes.spec import Beat, Pane, Scene
from app.model.studies import StudyResult, run_study

FAST_TIME_SCALE = 0.25
MAX_STEPS_PER_BEAT = 20_000


def pane_scenario(scene: Scene, pane: Pane, index: int, source_dir: Path | None, params: dict) -> Scenario:
    arch = pane.architecture
    if arch.endswith(".toml") and source_dir is not None and not Path(arch).is_absolute():
        arch = str(source_dir / arch)
    return Scenario(
        name=f"{scene.title} [{index}]", title=pane.label or scene.title, architecture=arch, size=pane.size,
        dims=tuple(pane.dims) if pane.dims else None, tiles=tuple(pane.tiles) if pane.tiles else None,
        chunk_bytes=pane.chunk_bytes, workload=pane.workload, params=dict(params), seed=pane.seed,
        sim_rate_s=pane.sim_rate_s)


@dataclass
class CheckResult:
    value_name: str
    value: float
    ok: bool
    says: str
    why: str
    shown_as: str = "number"

    @property
    def shown(self) -> str:
        from app.scenes.present import format_check_value
        return format_check_value(self.value, self.shown_as)

    def line(self) -> str:
        """The check in plain words for the audience: the claim and what this run measured."""
        head = "Checked in this run" if self.ok else "NOT true in this run"
        return f"{head}: {self.says or self.value_name}. Measured: {self.shown}."

    def to_json(self) -> dict:
        return {"passed": self.ok, "value": self.value, "value_name": self.value_name, "shown": self.shown,
                "says": self.says, "why": self.why, "line": self.line()}


@dataclass
class SceneRun:
    """A scene brought to life: its simulations (one per pane), the current beat, the numbers."""

    scene: Scene
    source: str = ""
    fast: bool = False
    sims: list = field(default_factory=list)
    beat: int = -1
    params: list[dict] = field(default_factory=list)
    study: StudyResult | None = None
    beat_start_s: float = 0.0
    beat_start_rounds: list[int] = field(default_factory=list)

    def __post_init__(self):
        self.source_dir = Path(self.source).parent if self.source else None
        self.params = [dict(p.params) for p in self.scene.panes]
        self.build()

    # ------------------------------------------------------------------ building
    def scenarios(self) -> list[Scenario]:
        return [pane_scenario(self.scene, p, i, self.source_dir, self.params[i]) for i, p in enumerate(self.scene.panes)]

    def initial_scenarios(self) -> list[Scenario]:
        """The panes as the file defines them (before any beat's ``set``): what studies run."""
        return [pane_scenario(self.scene, p, i, self.source_dir, dict(p.params)) for i, p in enumerate(self.scene.panes)]

    def build(self) -> None:
        """(Re)build every pane's simulation from the current parameters; SpecError names the pane."""
        sims = []
        for i, sc in enumerate(self.scenarios()):
            try:
                sims.append(build_simulation(sc))
            except SpecError as exc:
                raise SpecError(self.source or self.scene.title, f"panes[{i}].{exc.field}", exc.value,
                                exc.allowed) from None
        self.sims = sims

    def compute_study(self) -> StudyResult:
        if self.study is None:
            self.study = run_study(self.scene.study, self.scene.study_params, fast=self.fast,
                                   panes=self.initial_scenarios())
        return self.study

    # ------------------------------------------------------------------ beats
    def enter_beat(self, i: int) -> Beat:
        """Make beat ``i`` current: apply its parameter changes (rebuilding if any)."""
        beat = self.scene.beats[i]
        self.beat = i
        if beat.set:
            for p in self.params:
                p.update(beat.set)
            self.build()
        self.beat_start_s = self.now_s
        self.beat_start_rounds = [len(s.workload.log.durations) for s in self.sims]
        return beat

    @property
    def now_s(self) -> float:
        return self.sims[0].engine.now_s

    @property
    def step_s(self) -> float:
        return min(s.step_s for s in self.sims)

    def step(self, dt: float) -> None:
        """One tick of the shared clock: every pane's engine advances by the same ``dt``."""
        for s in self.sims:
            s.engine.step(dt)

    def beat_duration_s(self, beat: Beat) -> float:
        return beat.run.for_s * (FAST_TIME_SCALE if self.fast else 1.0)

    def beat_done(self) -> bool:
        beat = self.scene.beats[self.beat]
        limit = self.beat_duration_s(beat)
        elapsed = self.now_s - self.beat_start_s
        if beat.run.until == "time":
            return elapsed >= limit - 1e-18
        if limit > 0 and elapsed >= limit:
            return True
        return all(len(s.workload.log.durations) - n >= beat.run.rounds
                   for s, n in zip(self.sims, self.beat_start_rounds))

    def run_beat(self, i: int) -> None:
        """Run beat ``i`` to its end headlessly (bigger steps while waiting: results do not depend on dt)."""
        self.enter_beat(i)
        dt = self.step_s * 8
        for _ in range(MAX_STEPS_PER_BEAT):
            if self.beat_done():
                return
            beat = self.scene.beats[i]
            if beat.run.until == "time":
                dt = min(dt, self.beat_start_s + self.beat_duration_s(beat) - self.now_s) or self.step_s
            self.step(max(dt, 1e-15))
            if beat.run.until == "round":
                dt = min(dt * 1.25, 1e-2)
        raise SpecError(self.source, f"beats[{i}].run", beat.run.model_dump(), "a beat that ends within "
                        f"{MAX_STEPS_PER_BEAT} steps (the event never happened)")

    # ------------------------------------------------------------------ numbers
    def pane_values(self) -> dict[str, float]:
        out = {}
        for i, s in enumerate(self.sims):
            last = s.workload.last_round_s()
            if last is not None:
                out[f"pane{i}.round_s"] = last
            out[f"pane{i}.rounds"] = float(len(s.workload.log.durations))
        if "pane0.round_s" in out and "pane1.round_s" in out:
            out["pane1_over_pane0"] = out["pane1.round_s"] / out["pane0.round_s"]
        return out

    def values(self) -> dict[str, float]:
        return {**self.compute_study().values, **self.pane_values()}

    def evaluate_check(self) -> CheckResult | None:
        chk = self.scene.check
        if chk is None:
            return None
        vals = self.values()
        if chk.value not in vals:
            raise SpecError(self.source, "check.value", chk.value, f"a computed value: {', '.join(sorted(vals))}")
        v = vals[chk.value]
        ok = (chk.at_least is None or v >= chk.at_least) and (chk.at_most is None or v <= chk.at_most)
        why = self.study.value_why.get(chk.value, "simulated (panes in lock-step)")
        return CheckResult(chk.value, v, ok, chk.says, why, chk.shown_as)

    def run_all(self) -> CheckResult | None:
        for i in range(len(self.scene.beats)):
            self.run_beat(i)
        return self.evaluate_check()


def open_scene(name_or_path: str, fast: bool = False) -> SceneRun:
    from app.scenes.spec import load_scene, resolve_scene_path
    path = resolve_scene_path(name_or_path)
    return SceneRun(load_scene(path), str(path), fast=fast)


def core_links(fabric, row: int, col: int, chip: int = 0) -> np.ndarray:
    """(K,) int64 links into and out of core (row, col) of ``chip``'s drawn mesh; empty if off the mesh."""
    if not (0 <= row < fabric.tile_rows and 0 <= col < fabric.tile_cols):
        return np.zeros(0, dtype=np.int64)
    node = chip * fabric.tile_rows * fabric.tile_cols + row * fabric.tile_cols + col
    return np.flatnonzero((fabric.link_src == node) | (fabric.link_dst == node)).astype(np.int64)


def bisection_links(fabric, chip: int = 0) -> np.ndarray:
    """(B,) int64 on-chip links of ``chip`` that cross the vertical middle of its mesh, both ways."""
    tiles = np.flatnonzero(fabric.node_chip[: fabric.n_tiles] == chip)
    if tiles.size < 2:
        return np.zeros(0, dtype=np.int64)
    mid = 0.5 * (fabric.node_x[tiles].min() + fabric.node_x[tiles].max())
    noc = fabric.links_of_kind("noc")
    src_x, dst_x = fabric.node_x[fabric.link_src[noc]], fabric.node_x[fabric.link_dst[noc]]
    on_chip = fabric.node_chip[fabric.link_src[noc]] == chip
    crosses = on_chip & ((src_x - mid) * (dst_x - mid) < 0)
    return np.asarray(noc[crosses], dtype=np.int64)


def scene_study(scene: Scene, source: str, fast: bool = False) -> StudyResult:
    """A scene's numbers without building its panes (what a window computes ahead for the next
    scene): the same ``run_study`` call and cache as ``SceneRun.compute_study``."""
    source_dir = Path(source).parent if source else None
    panes = [pane_scenario(scene, p, i, source_dir, dict(p.params)) for i, p in enumerate(scene.panes)]
    return run_study(scene.study, scene.study_params, fast=fast, panes=panes)
