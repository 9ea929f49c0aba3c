"""Install like a user: build the wheel, install it into a fresh virtual environment, run it there."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_installs_into_a_fresh_venv_and_runs(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)],
                   check=True, capture_output=True, text=True)
    (wheel,) = dist.glob("meshscope-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    bin_ = venv / "bin"
    # Resolves the declared dependencies like a user's install would (pip's cache keeps it quick).
    subprocess.run([str(bin_ / "python"), "-m", "pip", "install", "-q", str(wheel)], check=True,
                   capture_output=True, text=True)
    work = tmp_path / "elsewhere"  # not the checkout: imports must come from the wheel
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["QT_QPA_PLATFORM"] = "offscreen"

    def run(*args):
        out = subprocess.run(list(args), cwd=work, env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        return out.stdout

    assert "meshscope" in run(str(bin_ / "meshscope"), "--version").lower()
    presets = json.loads(run(str(bin_ / "python"), "-m", "sim_core", "list", "--json"))["presets"]
    assert len(presets) >= 6
    where = run(str(bin_ / "python"), "-c", "import app, sim_core; print(app.__file__); print(sim_core.__file__)")
    assert str(ROOT) not in where, f"imported from the checkout, not the wheel: {where}"
    shot = work / "shot.png"
    run(str(bin_ / "python"), "-m", "app", "--scene", "default", "--frames", "30", "--screenshot", str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    if any((ROOT / "scenes").glob("*.toml")):  # shipped scenes come with the wheel
        found = run(str(bin_ / "python"), "-c", "from app.paths import scenes_dir; print(scenes_dir())").strip()
        assert str(venv) in found and any(Path(found).glob("*.toml"))
