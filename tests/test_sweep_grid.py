"""Grid files: the points a grid makes, and every way a grid can be wrong (one line, exit 2)."""
import subprocess
import sys

import pytest

from sim_core.cli.main import main
from sim_core.errors import SpecError
from sim_core.sweep.grid import load_grid

GOOD = """schema_version = 1
command = "train"
[fixed]
model = "gpt"
layers = 4
hidden = 256
heads = 4
seq = 128
vocab = 1000
batch = 16
arch = "dgx-a100"
[vary]
nodes = [1, 2]
tp = [1, 2, 4]
"""


def write(tmp_path, text, name="grid.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_product_and_explicit_points_in_column_order(tmp_path):
    g = load_grid(write(tmp_path, GOOD + '[[points]]\nnodes = 1\ntp = 8\nno-recompute = true\n'
                                          '[[points]]\nnodes = 1\ntp = 1\n'))
    assert g.command == "train" and g.size == 8
    assert g.columns[:3] == ("nodes", "tp", "no-recompute")
    points = list(g.iter_points())
    assert len(points) == 7  # the second explicit point repeats a product point
    assert points[0].argv()[:5] == ["train", "--nodes", "1", "--tp", "1"]
    assert "--no-recompute" in points[-1].argv() and points[-1].as_dict()["no-recompute"] is True
    assert points[0].as_dict()["no-recompute"] is None  # not given: the command's default


def test_a_grid_of_explicit_points_only_has_just_those():
    g = load_grid({"schema_version": 1, "command": "transfer", "fixed": {"arch": "dgx-a100"},
                   "points": [{"dst": 1}, {"dst": 3, "bytes": 1e3}]})
    assert g.size == 2 and [p.argv() for p in g.iter_points()] == [
        ["transfer", "--dst", "1", "--arch", "dgx-a100"], ["transfer", "--dst", "3", "--bytes", "1000.0", "--arch", "dgx-a100"]]


def test_a_dict_grid_is_the_same_grid():
    doc = {"schema_version": 1, "command": "transfer", "fixed": {"arch": "dgx-a100", "nodes": 2},
           "vary": {"bytes": [1e3, 1e6], "dst": [1, 8]}}
    g = load_grid(doc)
    assert g.size == 4 and [p.as_dict()["dst"] for p in g.iter_points()] == [1, 8, 1, 8]


def test_more_than_100000_points_need_yes(tmp_path):
    big = GOOD.replace("tp = [1, 2, 4]", "tp = [1, 2, 4, 8]\nmicrobatch = " + str(list(range(1, 12502))))
    path = write(tmp_path, big)
    with pytest.raises(SpecError, match="at most 100,000 points unless confirmed with --yes"):
        load_grid(path)
    assert load_grid(path, confirmed=True).size == 100_008


BAD = [
    ("unknown top key", "colour = 1\n" + GOOD, "colour", "not a known key (allowed: schema_version"),
    ("missing version", GOOD.replace("schema_version = 1\n", ""), "schema_version", "schema_version = 1"),
    ("wrong version", GOOD.replace("schema_version = 1", "schema_version = 7"), "schema_version", "= 1"),
    ("unknown command", GOOD.replace('"train"', '"fly"'), "command", "one of train, collective, transfer, noc"),
    ("unknown option", GOOD.replace("layers = 4", "layerz = 4"), "fixed.layerz", "not an option of `train`"),
    ("unknown varied option", GOOD + "tpp = [1]\n", "vary.tpp", "not an option of `train` (allowed: arch, batch"),
    ("scalar in vary", GOOD.replace("tp = [1, 2, 4]", "tp = 2"), "vary.tp", "a list of values"),
    ("empty list", GOOD.replace("tp = [1, 2, 4]", "tp = []"), "vary.tp", "a non-empty list"),
    ("list in fixed", GOOD.replace("layers = 4", "layers = [4, 8]"), "fixed.layers", "a single value"),
    ("refused count", GOOD.replace("tp = [1, 2, 4]", "tp = [1, 0]"), "vary.tp[1]", "allowed whole numbers 1 to 4,096"),
    ("refused fraction", GOOD.replace("tp = [1, 2, 4]", "tp = [2.5]"), "vary.tp[0]", "allowed whole numbers"),
    ("refused choice", GOOD.replace('command = "train"', 'command = "collective"').split("[fixed]")[0]
     + '[vary]\nop = ["allreduce", "allgatherx"]\n', "vary.op[1]", "one of allgather, allreduce"),
    ("refused rate", 'schema_version = 1\ncommand = "noc"\n[vary]\nrate = [0.1, 2.0]\n', "vary.rate[1]",
     "rate (0 to 1 flits/node/cycle)"),
    ("number as text", GOOD.replace("tp = [1, 2, 4]", 'tp = ["2"]'), "vary.tp[0]", "a number, not a string"),
    ("flag not bool", GOOD + "no-recompute = [1]\n", "vary.no-recompute[0]", "true or false"),
    ("bool not flag", GOOD.replace("layers = 4", "layers = true"), "fixed.layers", "a value, not true/false"),
    ("not sweepable", GOOD.replace("layers = 4", "layers = 4\njson = true"), "fixed.json", "not sweepable"),
    ("unknown arch", GOOD.replace('arch = "dgx-a100"', 'arch = "dgx-a1000"'), "fixed.arch", "a preset id (cpu-cluster"),
    ("unknown model", GOOD.replace('model = "gpt"', 'model = "gpt-5"'), "fixed.model", "one of bert-large"),
    ("fixed and varied", GOOD.replace("layers = 4", "layers = 4\ntp = 1"), "vary.tp", "given in [fixed] too"),
    ("repeated value", GOOD.replace("tp = [1, 2, 4]", "tp = [1, 2, 1]"), "vary.tp", "without repeated values"),
    ("bad explicit point", GOOD + "[[points]]\ntpp = 1\n", "points[0].tpp", "not an option of `train`"),
    ("nothing varied", GOOD.split("[vary]")[0], "vary", "a [vary] table of lists or at least one [[points]]"),
    ("fixed not a table", 'schema_version = 1\ncommand = "train"\nfixed = 3\n[vary]\ntp = [1]\n', "fixed", "a table"),
    ("not TOML", GOOD.replace("tp = [1, 2, 4]", "tp = [1, 2"), "(file)", "a TOML document"),
    ("too big", GOOD.replace("tp = [1, 2, 4]", "tp = [1, 2]\nmicrobatch = " + str(list(range(1, 50002)))),
     "(points)", "at most 100,000 points unless confirmed with --yes"),
]


@pytest.mark.parametrize("name,text,field,allowed", BAD, ids=[b[0] for b in BAD])
def test_bad_grid_is_one_line_naming_file_and_key(tmp_path, capsys, name, text, field, allowed):
    path = write(tmp_path, text)
    code = main(["sweep", str(path), "--out", str(tmp_path / "out.csv")])
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"error: {path}: field '{field}'"), lines[0]
    assert allowed in lines[0], lines[0]
    assert not (tmp_path / "out.csv").exists()


def test_missing_grid_file_and_bad_out_suffix(tmp_path, capsys):
    assert main(["sweep", str(tmp_path / "none.toml"), "--out", str(tmp_path / "o.csv")]) == 2
    assert "a readable file" in capsys.readouterr().err
    path = write(tmp_path, GOOD)
    assert main(["sweep", str(path), "--out", str(tmp_path / "o.xlsx")]) == 2
    assert "a results file ending in .csv or .parquet" in capsys.readouterr().err


def test_the_real_command_line_prints_no_traceback(tmp_path):
    path = write(tmp_path, GOOD.replace("tp = [1, 2, 4]", "tp = 2"))
    out = subprocess.run([sys.executable, "-m", "sim_core", "sweep", str(path), "--out", str(tmp_path / "o.csv")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [f"error: {path}: field 'vary.tp': value 2: a list of values, "
                                               "e.g. tp = [2, ...]"]
