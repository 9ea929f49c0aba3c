"""Sweeps on Dask: a real scheduler and two workers on 127.0.0.1 give the local run's rows;
an interrupted sweep resumes with every point exactly once; an unreachable scheduler is one line."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim_core.cli.main import main
from sim_core.sweep import driver, store
from sim_core.sweep.grid import load_grid
from sim_core.sweep.worker import flatten

ROOT = Path(__file__).resolve().parents[1]
GRID = """schema_version = 1
command = "train"
[fixed]
model = "gpt"
layers = 4
hidden = 256
heads = 4
seq = 128
vocab = 1000
batch = 16
[vary]
arch = ["dgx-a100", "dgx-h100"]
nodes = [1, 2]
tp = [2, 16]
[[points]]
arch = "dgx-a100"
nodes = 1
tp = 1
no-recompute = true
"""  # 9 points; tp = 16 on one node is refused (16 devices > 8)


def without_wall(rows):
    """Rows as a file holds them (every column in every row, None where empty), less wall_s."""
    columns = [k for k in dict.fromkeys(k for r in rows for k in r) if k != "wall_s"]
    return [{k: r.get(k) for k in columns} for r in rows]


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory):
    """``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1, stopped afterwards."""
    folder = tmp_path_factory.mktemp("dask")
    info = folder / "scheduler.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    common = dict(cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                               "--port", "0", "--dashboard-address", "127.0.0.1:0", "--scheduler-file", str(info)],
                              **common)]
    try:
        for _ in range(300):
            if info.exists() and info.stat().st_size:
                break
            time.sleep(0.1)
        address = json.loads(info.read_text())["address"]
        for _ in range(2):
            procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address,
                                           "--nthreads", "1", "--no-nanny", "--host", "127.0.0.1",
                                           "--no-dashboard"], **common))
        from distributed import Client

        with Client(address, timeout=30, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=60)
        yield address
        with Client(address, timeout=30, set_as_default=False) as client:
            client.shutdown()  # the scheduler closes its workers, then itself
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


@pytest.fixture
def grid_file(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text(GRID)
    return path


def test_cluster_rows_equal_local_rows(scheduler, grid_file, tmp_path, capsys):
    local, remote = tmp_path / "local.csv", tmp_path / "remote.parquet"
    assert main(["sweep", str(grid_file), "--out", str(local), "--workers", "2", "--quiet"]) == 0
    assert main(["sweep", str(grid_file), "--out", str(remote), "--scheduler", scheduler, "--json", "--quiet"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["points"] == 9 and summary["computed"] == 9 and summary["workers"] == 2 and summary["lost"] == 0
    a, b = store.read_rows(local), store.read_rows(remote)
    assert len(a) == 9 and without_wall(a) == without_wall(b)
    assert [(r["arch"], r["nodes"], r["tp"]) for r in a][:3] == [("dgx-a100", 1, 1), ("dgx-a100", 1, 2),
                                                                ("dgx-a100", 1, 16)]
    refused = [r for r in a if r["error"]]
    assert [(r["nodes"], r["tp"]) for r in refused] == [(1, 16), (1, 16)]
    assert "must equal the 8 devices" in refused[0]["error"] and refused[0]["iteration_s"] is None
    assert all(r["wall_s"] > 0 for r in a)


def test_a_row_is_what_the_command_prints(grid_file, tmp_path, capsys):
    from sim_core.sweep.worker import run_point

    point = next(p for p in load_grid(grid_file).iter_points() if p.as_dict()["tp"] == 2)
    assert main(point.argv() + ["--json", "--quiet"]) == 0
    printed = flatten(json.loads(capsys.readouterr().out))
    row = run_point(point)
    assert row["error"] is None
    for key, value in printed.items():
        assert row[f"out.{key}" if key in point.as_dict() else key] == value, key


def test_interrupted_sweep_resumes_with_every_point_once(scheduler, grid_file, tmp_path):
    from distributed import Client

    out = tmp_path / "results.csv"
    grid = load_grid(grid_file)

    def stop_after_four(done, total):
        if done == 4:
            raise KeyboardInterrupt

    with Client(scheduler, set_as_default=False) as client:
        with pytest.raises(KeyboardInterrupt):
            driver.run_grid(grid, out, client=client, batch_points=2, progress=False, on_progress=stop_after_four)
        first = store.read_rows(out)
        assert len(first) == 4
        again = driver.run_grid(grid, out, client=client, batch_points=2, progress=False)
        assert (again.skipped, again.computed) == (4, 5)
        fresh = driver.run_grid(grid, None, client=client, progress=False)
    rows = store.read_rows(out)
    assert sorted(r["point"] for r in rows) == sorted({p.key() for p in grid.iter_points()})
    assert without_wall(rows) == without_wall(fresh.rows)
    assert {r["point"]: r["wall_s"] for r in first}.items() <= {r["point"]: r["wall_s"] for r in rows}.items()


def test_a_finished_sweep_runs_nothing_again(grid_file, tmp_path, capsys):
    out = tmp_path / "r.csv"
    rows = [{"point": p.key(), "command": "train", **p.as_dict(), "error": None, "wall_s": 0.0}
            for p in load_grid(grid_file).iter_points()]
    store.write_rows(out, rows, list(load_grid(grid_file).columns))
    assert main(["sweep", str(grid_file), "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "0 computed now" in printed and "9 already there" in printed


def test_a_foreign_file_is_never_overwritten(grid_file, tmp_path, capsys):
    out = tmp_path / "mine.csv"
    out.write_text("a,b\n1,2\n")
    assert main(["sweep", str(grid_file), "--out", str(out), "--quiet"]) == 2
    assert "has no `point` column" in capsys.readouterr().err
    assert out.read_text() == "a,b\n1,2\n"


def test_unreachable_scheduler_is_one_line(grid_file, tmp_path, capsys):
    with pytest.raises(Exception, match="no scheduler answered within 1 s"):
        driver.probe_scheduler("tcp://127.0.0.1:9", timeout_s=1.0)
    assert main(["sweep", str(grid_file), "--out", str(tmp_path / "o.csv"), "--scheduler", "tcp://127.0.0.1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --scheduler: field 'scheduler'") and "dask scheduler" in err[0]
    assert main(["sweep", str(grid_file), "--out", str(tmp_path / "o.csv"), "--scheduler", "tcp://127.0.0.1:9",
                 "--workers", "2"]) == 2
    assert "only without --scheduler" in capsys.readouterr().err


def test_notebook_api_returns_a_dataframe(scheduler, grid_file):
    import sim_core

    df = sim_core.sweep(str(grid_file), scheduler=scheduler, progress=False)
    assert list(df.columns[:5]) == ["point", "command", "arch", "nodes", "tp"]
    assert len(df) == 9 and df["error"].notna().sum() == 2
    assert df["breakdown_s.compute"].notna().sum() == 7


def test_import_sim_core_loads_neither_dask_nor_pandas():
    code = ("import sys, sim_core, sim_core.cli.main, sim_core.sweep\n"
            "sim_core.cli.main.build_parser()\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed', 'pandas')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


TINY = """schema_version = 1
id = "tiny-gpt"
name = "tiny GPT"
kind = "transformer"
layers = 2
hidden = 256
heads = 4
seq = 128
vocab = 1000
batch = 4
source = "a small GPT made up for this test"
"""


def test_plan_ranks_what_train_computes(scheduler, tmp_path, capsys):
    import sim_core

    model = tmp_path / "tiny.toml"
    model.write_text(TINY)
    df = sim_core.plan(arch="dgx-a100", nodes=1, model=str(model), scheduler=scheduler, progress=False)
    kept, ruled = df[df["kept"]], df[~df["kept"]]
    assert len(df) == 68 and len(ruled) == 8 and ruled["rank"].isna().all()
    assert ruled["reason"].str.contains("at most the global batch").all()  # dp = 8 > batch 4
    assert len(kept) > 10 and list(kept["rank"]) == list(range(1, len(kept) + 1))
    assert list(kept["iteration_s"]) == sorted(kept["iteration_s"])
    assert (kept["tp"] * kept["pp"] * kept["dp"] == 8).all()
    best = kept.iloc[0]
    argv = ["train", "--arch", "dgx-a100", "--nodes", "1", "--model", str(model), "--json", "--quiet",
            "--tp", str(best["tp"]), "--pp", str(best["pp"]), "--dp", str(best["dp"]),
            "--microbatch", str(best["microbatch"]), "--zero", str(best["zero"])]
    assert main(argv + ([] if best["recompute"] else ["--no-recompute"])) == 0
    assert json.loads(capsys.readouterr().out)["iteration_s"] == best["iteration_s"]
    assert best["reason"].startswith("kept: fits in memory") and "the fastest" in best["reason"]


def test_plan_that_nothing_fits_says_why(scheduler, capsys):
    code = main(["plan", "--arch", "dgx-a100", "--nodes", "1", "--model", "gpt3-175b", "--json", "--quiet",
                 "--scheduler", scheduler])
    captured = capsys.readouterr()
    assert code == 0 and "no plan of gpt3-175b fits dgx-a100 (8 devices)" in captured.err
    out = json.loads(captured.out)
    assert out["best"] is None and out["kept"] == 0 and out["searched"] == len(out["plans"]) > 100
    assert all(p["reason"].startswith("ruled out: plan: field ") for p in out["plans"])
    assert any("GB per device with this plan" in p["reason"] for p in out["plans"])
