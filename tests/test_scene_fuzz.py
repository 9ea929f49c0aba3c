"""Scene files under fuzzing: random valid documents load; corruptions end in one SpecError naming
the file and the key (beat included), fast; paths cannot leave the scene's folder."""
import math
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tools import fuzz_scenes as scene_fuzz
from app.scenes.spec import load_scene, parse_scene, shipped_scenes
from sim_core import SpecError
from sim_core.spec.loader import read_toml


def test_fuzz_run_has_no_failures():
    res = scene_fuzz.run(cases=600, seed=7)
    assert res["failures"] == [], res["failures"][:3]
    assert res["slowest_s"] < 1.0
    assert res["by_corruption"]["valid"] == {"valid": 40}
    assert res["by_corruption"]["path-escape"] == {"error": 40}


def test_fuzz_command_prints_counts(capsys):
    assert scene_fuzz.main(["--cases", "60"]) == 0
    out = capsys.readouterr().out
    assert "failures: 0" in out and "binary-garbage" in out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_any_bytes_load_or_fail_cleanly(data):
    outcome, secs = scene_fuzz.check_one(data)
    assert not outcome.startswith("FAIL"), outcome
    assert secs < 1.0


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2 ** 70), 2 ** 70) | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4), max_leaves=20)
_KEYS = ("title", "point", "order", "study", "study_params", "check", "view", "schema_version")


@settings(max_examples=200, deadline=None)
@given(key=st.sampled_from(_KEYS + ("panes", "beats")), value=_json)
def test_any_value_at_a_key_gives_valid_or_one_named_error(key, value):
    doc = read_toml(shipped_scenes()["4-congestion"])
    doc[key] = value
    try:
        parse_scene(doc, "h.toml")
    except SpecError as exc:
        assert str(exc).startswith("h.toml: field ") and "\n" not in str(exc)
        assert exc.field.startswith(key) or exc.field == "(document)" or key == "panes", str(exc)


def _beat_doc():
    return read_toml(shipped_scenes()["1-leaving-the-chip"])


@pytest.mark.parametrize("key, value", [("nbytes", math.nan), ("nbytes", math.inf), ("nbytes", 1e308),
                                        ("nbytes", -5), ("nbytes", "8 MB")])
def test_bad_number_in_a_beat_names_the_beat(key, value):
    doc = _beat_doc()
    doc["beats"][2]["set"] = {key: value}
    with pytest.raises(SpecError) as exc:
        parse_scene(doc, "s.toml")
    assert exc.value.field == f"beats[2].set.{key}"


def test_nan_check_bound_is_refused():
    doc = _beat_doc()
    doc["check"]["at_least"] = math.nan
    with pytest.raises(SpecError, match="check.at_least"):
        parse_scene(doc, "s.toml")


# ---------------------------------------------------------------------- paths stay inside
@pytest.fixture
def scene_folder(tmp_path):
    folder = tmp_path / "talk"
    folder.mkdir()
    shutil.copy(shipped_scenes()["1-leaving-the-chip"], folder / "scene.toml")
    from importlib import resources
    preset = resources.files("sim_core.spec") / "presets" / "dgx-a100.toml"
    (folder / "my-arch.toml").write_text(preset.read_text())
    (tmp_path / "outside.toml").write_text(preset.read_text())
    return folder


def _with_arch(folder, arch, key="architecture", where="pane"):
    text = (folder / "scene.toml").read_text()
    if where == "pane":
        text = text.replace('architecture = "dgx-a100"', f"architecture = {arch!r}".replace("'", '"'), 1)
    else:
        text = text.replace("study_params = { nbytes = 4 }", f'study_params = {{ nbytes = 4, {key} = "{arch}" }}')
    (folder / "scene.toml").write_text(text)
    return folder / "scene.toml"


def test_architecture_file_next_to_the_scene_loads(scene_folder):
    scene = load_scene(_with_arch(scene_folder, "my-arch.toml"))
    assert scene.panes[0].architecture == "my-arch.toml"


@pytest.mark.parametrize("arch", ["../../etc/passwd", "../../../../../../etc/passwd.toml", "/etc/passwd",
                                  "../outside.toml", "sub/../../outside.toml"])
def test_paths_outside_the_scene_folder_are_refused(scene_folder, arch):
    with pytest.raises(SpecError) as exc:
        load_scene(_with_arch(scene_folder, arch))
    assert exc.value.field == "panes[0].architecture"
    assert "preset" in exc.value.allowed


def test_absolute_path_elsewhere_and_symlink_out_are_refused(scene_folder):
    outside = scene_folder.parent / "outside.toml"
    with pytest.raises(SpecError, match="cannot read files elsewhere"):
        load_scene(_with_arch(scene_folder, str(outside)))
    (scene_folder / "link.toml").symlink_to(outside)
    shutil.copy(shipped_scenes()["1-leaving-the-chip"], scene_folder / "scene.toml")
    with pytest.raises(SpecError, match="cannot read files elsewhere"):
        load_scene(_with_arch(scene_folder, "link.toml"))


def test_absolute_path_inside_the_scene_folder_loads(scene_folder):
    load_scene(_with_arch(scene_folder, str(scene_folder / "my-arch.toml")))


@pytest.mark.parametrize("key", ["architecture", "preset"])
def test_study_parameters_name_presets_not_files(scene_folder, key):
    with pytest.raises(SpecError) as exc:
        load_scene(_with_arch(scene_folder, "../../etc/passwd", key=key, where="study"))
    assert exc.value.field == f"study_params.{key}"
