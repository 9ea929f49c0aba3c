"""Architecture files: presets load, bad files fail with one message naming file, field, value, rule."""
import pytest

from sim_core import SpecError, architecture_to_toml, build_fabric, load_architecture, preset_ids

REQUIRED = {"wafer-wse2", "dgx-a100", "dgx-h100", "pcie-a100", "tpu-v4", "cpu-cluster"}


def test_presets_have_their_ids_a_description_and_sources():
    assert REQUIRED <= set(preset_ids())
    for pid in preset_ids():
        spec = load_architecture(pid)
        assert spec.id == pid
        assert len(spec.description) > 80, "students need a plain-language description"
        assert "chip.peak_flops" in spec.sources
        assert all(s.strip() for s in spec.sources.values())


def test_round_trip_through_toml(tmp_path):
    for pid in preset_ids():
        spec = load_architecture(pid)
        path = tmp_path / f"{pid}.toml"
        path.write_text(architecture_to_toml(spec))
        assert load_architecture(path) == spec


def _write(tmp_path, text, name="arch.toml"):
    p = tmp_path / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    return p


def _mutated(replace_from, replace_to):
    text = architecture_to_toml(load_architecture("dgx-a100"))
    assert replace_from in text
    return text.replace(replace_from, replace_to, 1)


@pytest.mark.parametrize("old,new,field,value_part,rule_part", [
    ("cores = 108", "cores = 108\nwarp_speed = 9", "chip.warp_speed", "9", "unknown key"),
    ("cores = 108", 'cores = "many"', "chip.cores", "many", "integer"),
    ("bandwidth_Bps = 300000000000.0", "bandwidth_Bps = -5.0", "links.nvlink.bandwidth_Bps", "-5", "greater than 0"),
    ("bandwidth_Bps = 300000000000.0", "bandwidth_Bps = 0", "links.nvlink.bandwidth_Bps", "0", "greater than 0"),
    ('intra_link = "nvlink"', 'intra_link = "warpdrive"', "topology.intra_link", "warpdrive", "not defined"),
    ('kind = "cluster"', 'kind = "hypercube"', "topology", "hypercube", "cluster"),
    ("schema_version = 1", "schema_version = 99", "schema_version", "99", "schema_version = 1"),
    ("peak_flops = 312000000000000.0\n", "", "chip.peak_flops", "missing", "required"),
])
def test_bad_fields_name_file_field_value_and_rule(tmp_path, old, new, field, value_part, rule_part):
    path = _write(tmp_path, _mutated(old, new))
    with pytest.raises(SpecError) as info:
        load_architecture(path)
    err = info.value
    msg = str(err)
    assert str(path) in msg
    assert err.field.startswith(field), msg
    assert value_part in msg
    assert rule_part in msg, msg
    assert "\n" not in msg


@pytest.mark.parametrize("content,allowed", [
    ("this is = = not toml", "TOML"),
    (b"\xff\xfe\x00garbage", "UTF-8"),
    ("", "schema_version"),
])
def test_not_toml_is_one_clear_error(tmp_path, content, allowed):
    path = _write(tmp_path, content)
    with pytest.raises(SpecError, match=allowed) as info:
        load_architecture(path)
    assert str(path) in str(info.value)


def test_missing_file_and_unknown_preset():
    with pytest.raises(SpecError, match="readable file"):
        load_architecture("/nonexistent/arch.toml")
    with pytest.raises(SpecError, match="preset id"):
        load_architecture("no-such-preset")


def test_disconnected_topology_is_refused(tmp_path):
    text = architecture_to_toml(load_architecture("wafer-wse2")).replace('network_link = "eth"', 'network_link = ""')
    spec = load_architecture(_write(tmp_path, text))
    with pytest.raises(SpecError, match="network") as info:
        build_fabric(spec, wafers=2, tiles=(2, 2))
    assert info.value.field == "topology.network_link"


def test_nothing_in_a_file_is_executed(tmp_path):
    marker = tmp_path / "pwned"
    text = _mutated('name = "A100 SXM4 80GB"', f'name = "__import__(\'os\').system(\'touch {marker}\')"')
    spec = load_architecture(_write(tmp_path, text))
    assert "__import__" in spec.chip.name and not marker.exists()


def test_fabric_size_limits_are_explained():
    with pytest.raises(SpecError, match="at most"):
        build_fabric(load_architecture("dgx-a100"), nodes=512, tiles=(32, 32))


def test_errors_stay_on_one_line_whatever_the_key():
    err = SpecError("a\nb.toml", "study_params.\n\t", "x\ny", "rule\nsecond line")
    assert "\n" not in str(err) and "\\n" in str(err)
