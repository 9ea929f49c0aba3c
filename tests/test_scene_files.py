"""Scene files: every shipped scene loads, runs its beats headlessly and meets its own check;
old versions load; bad files are refused with the file, the key path and the field."""
import pytest

from sim_core import SpecError
from app.scenes.runner import open_scene
from app.scenes.spec import load_scene, parse_scene, shipped_scenes
from sim_core.spec.loader import read_toml

SHIPPED = list(shipped_scenes())


def test_eight_scenes_ship():
    assert len(SHIPPED) == 8


@pytest.mark.parametrize("name", SHIPPED)
def test_scene_runs_and_meets_its_check(name):
    run = open_scene(name, fast=True)
    result = run.run_all()
    assert result is not None and result.ok, result.line()
    assert run.study.rows, "a scene shows numbers"
    assert all(row["why"] for row in run.study.rows), "every number says where it comes from"


def test_same_scene_same_numbers():
    a, b = open_scene("1", fast=True), open_scene("1", fast=True)
    a.run_all(), b.run_all()
    assert a.values() == b.values()
    assert a.sims[0].engine.now_s == b.sims[0].engine.now_s


def test_version_1_fixture_loads_and_runs(tmp_path):
    from pathlib import Path
    path = Path(__file__).parent / "fixtures" / "scene_v1.toml"
    scene = load_scene(path)
    assert scene.schema_version == 2 and len(scene.panes) == 1
    assert scene.panes[0].architecture == "dgx-a100"
    run = open_scene(str(path), fast=True)
    run.run_all()
    assert run.pane_values()["pane0.rounds"] >= 1


def _doc(**changes):
    doc = read_toml(shipped_scenes()["1-leaving-the-chip"])
    for path, value in changes.items():
        node = doc
        keys = path.split("/")
        for k in keys[:-1]:
            node = node[int(k)] if k.isdigit() else node[k]
        node[keys[-1]] = value
    return doc


@pytest.mark.parametrize("changes, field", [
    ({"beats/3/set": {"nbytez": 4}}, "beats[3].set.nbytez"),
    ({"beats/2/run": {"until": "forever"}}, "beats[2].run.until"),
    ({"panes/0/size": 1000}, "panes[0].size"),
    ({"panes/0/size": "2"}, "panes[0].size"),
    ({"panes/0/params": {"speed": 1}}, "panes[0].params.speed"),
    ({"schema_version": 9}, "schema_version"),
    ({"study": "astrology"}, "study"),
    ({"colour": "red"}, "colour"),
])
def test_bad_scene_names_file_beat_and_field(changes, field):
    with pytest.raises(SpecError) as exc:
        parse_scene(_doc(**changes), "bad.toml")
    assert exc.value.source == "bad.toml"
    assert exc.value.field == field, str(exc.value)


def test_unknown_scene_name_lists_shipped():
    with pytest.raises(SpecError, match="leaving-the-chip"):
        load_scene("no-such-scene")


def test_scene_reference_matches_the_schema():
    import pathlib
    from app.scenes.doc import scene_reference
    committed = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "reference" / "scene-schema.md").read_text()
    assert committed == scene_reference(), "run: python -m app.scenes.doc > docs/reference/scene-schema.md"
