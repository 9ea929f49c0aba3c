"""The tree's layers, checked: imports run one way, and the Qt-free layers load no Qt.

sim_core:  base (errors, cancel, atomic_io) -> spec -> fabric -> engine -> workloads -> validation, cli
app:       model, scenes (Qt-free, but the scenes' command line) -> ui -> windows -> launch, __main__
sim_core never imports app, Qt, pyqtgraph, or the developer tools in benchmarks/ and tools/.
"""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QT = ("PySide6", "shiboken6", "pyqtgraph")
CORE_RANK = {"errors": 0, "cancel": 0, "atomic_io": 0, "version": 0, "spec": 1, "fabric": 2, "engine": 3,
             "workloads": 4, "validation": 5, "cli": 6, "sweep": 6, "__init__": 7, "__main__": 7}
APP_RANK = {"paths": 0, "model": 1, "scenes": 1, "ui": 2, "windows": 3, "launch": 4, "__main__": 5, "__init__": 0}


def _modules(package: str):
    for path in sorted((ROOT / package).rglob("*.py")):
        yield path, ".".join(path.relative_to(ROOT).with_suffix("").parts)


def _imports(path: Path, module: str) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    pkg = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = pkg[:len(pkg) - node.level + 1] if node.level else []
            name = ".".join(base + ([node.module] if node.module else []))
            out.append(name)
            out += [f"{name}.{a.name}" for a in node.names]  # `from pkg import module`
    return out


def _layer(module: str, ranks: dict) -> int:
    parts = module.split(".")
    return ranks.get(parts[1] if len(parts) > 1 else "__init__", 0)


def _violations(package: str, ranks: dict, forbidden: tuple) -> list[str]:
    bad = []
    for path, mod in _modules(package):
        mine = _layer(mod, ranks)
        for imp in _imports(path, mod):
            top = imp.split(".")[0]
            if top in forbidden:
                bad.append(f"{mod} imports {imp}")
            elif top == package and _layer(imp, ranks) > mine:
                bad.append(f"{mod} (layer {mine}) imports {imp} (layer {_layer(imp, ranks)})")
    return bad


def test_sim_core_imports_run_one_way_and_never_reach_the_app():
    assert _violations("sim_core", CORE_RANK, QT + ("app", "benchmarks", "tools")) == []


def test_app_imports_run_model_then_ui_then_windows():
    bad = [v for v in _violations("app", APP_RANK, ("benchmarks", "tools"))
           if not v.startswith("app.scenes.cli ")]  # the scenes' command line opens windows
    assert bad == []


def test_qt_free_layers_of_the_app_import_no_qt():
    bad = []
    for package in ("app/model", "app/scenes"):
        for path, mod in _modules(package):
            if mod == "app.scenes.cli":
                continue
            bad += [f"{mod} imports {imp}" for imp in _imports(path, mod) if imp.split(".")[0] in QT]
    assert bad == []


@pytest.mark.parametrize("modules", [
    "sim_core, sim_core.cli.main, sim_core.validation.cases, sim_core.workloads.training",
    "app.model.scenario, app.model.studies, app.model.render_model, app.scenes.runner, app.scenes.save",
])
def test_importing_the_qt_free_layers_loads_no_qt(modules):
    code = (f"import sys, {modules}\n"
            "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in %r)))" % (QT,))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == ""
