"""sim_core must never load Qt: the core runs headless and in CI without a display."""
import subprocess
import sys


def test_import_sim_core_loads_no_qt():
    code = (
        "import sys, sim_core, sim_core.cli, sim_core.noc, sim_core.bench\n"
        "from sim_core import cli_core\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6', 'app'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"sim_core pulled in: {out.stdout}"
