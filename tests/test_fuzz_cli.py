"""Random command lines end in a result or one clear error line, never a traceback."""
from tools.fuzz_cli import run


def test_random_argument_lists_never_crash():
    res = run(cases=150, seed=11)
    assert res["failures"] == [], res["failures"][:3]
    outcomes = {o for per in res["by_command"].values() for o in per}
    assert {"ok", "refused"} <= outcomes
