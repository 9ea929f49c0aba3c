"""Results files: one row per point, CSV or Parquet by the file's suffix, written atomically.

Every write replaces the whole file (``atomic_io``), rows sorted by their inputs, so the
file on disk is always a complete table and an interrupted sweep leaves every finished
batch. Each row's ``point`` column (its inputs as compact JSON) is its identity: a rerun
reads it back to skip the points already there.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from sim_core.atomic_io import write_atomic_with
from sim_core.errors import SpecError
from sim_core.sweep.points import sort_key

FORMATS = (".csv", ".parquet")
LEADING, TRAILING = ("point", "command"), ("error", "wall_s")


def check_path(path) -> Path:
    """``path`` if its suffix names a format we write, else one SpecError."""
    p = Path(path)
    if p.suffix.lower() not in FORMATS:
        raise SpecError("--out", "out", str(path), "a results file ending in .csv or .parquet")
    if p.exists() and p.is_dir():
        raise SpecError("--out", "out", str(path), "a file, not a folder")
    return p


def load_writers(path) -> None:
    """Import pandas (and pyarrow for Parquet) now, so the first batch's write is quick."""
    import pandas  # noqa: F401

    if path is not None and Path(path).suffix.lower() == ".parquet":
        import pyarrow  # noqa: F401


def read_rows(path) -> list[dict]:
    """Rows already in ``path`` (none if it does not exist), missing cells as ``None``."""
    p = check_path(path)
    if not p.exists():
        return []
    import pandas as pd

    try:
        if p.suffix.lower() == ".csv":
            exact = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}  # 3.x: default
            df = pd.read_csv(p, keep_default_na=False, na_values=[""], **exact)
        else:
            df = pd.read_parquet(p)
    except Exception as exc:  # pandas raises many types for a damaged or foreign file
        first = str(exc).splitlines()[0] if str(exc) else "unreadable"
        raise SpecError("--out", "out", str(path), f"a results table this sweep wrote ({type(exc).__name__}: "
                        f"{first}); move it or choose another --out") from None
    if "point" not in df.columns:
        raise SpecError("--out", "out", str(path), "a results table this sweep wrote (it has no `point` column); "
                        "move it or choose another --out")
    rows = []
    for rec in df.to_dict("records"):
        row = {k: _missing_as_none(v) for k, v in rec.items()}
        row.update(json.loads(row["point"]))  # inputs exactly as given, whatever the file's dtypes
        rows.append(row)
    return rows


def _missing_as_none(v):
    import pandas as pd

    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA or v is pd.NaT:
        return None
    return v.item() if hasattr(v, "item") else v


def sorted_rows(rows: list[dict], inputs: list[str]) -> list[dict]:
    """Rows ordered by their inputs (see ``points.sort_key``), ties by point key."""
    return sorted(rows, key=lambda r: (sort_key(json.loads(r["point"]), inputs), r["point"]))


def column_order(rows: list[dict], inputs: list[str]) -> list[str]:
    """``point``, the inputs, the outputs in order of first appearance, ``error``, ``wall_s``."""
    seen = dict.fromkeys([*LEADING, *inputs])
    for row in rows:
        seen.update(dict.fromkeys(k for k in row if k not in TRAILING))
    return [*seen, *TRAILING]


def to_frame(rows: list[dict], inputs: list[str]):
    """A pandas DataFrame of ``rows`` sorted by inputs, columns in ``column_order``."""
    import pandas as pd

    rows = sorted_rows(rows, inputs)
    return pd.DataFrame(rows, columns=column_order(rows, inputs))


def write_rows(path, rows: list[dict], inputs: list[str]) -> None:
    """Replace ``path`` with ``rows`` (sorted), atomically."""
    p = check_path(path)
    df = to_frame(rows, inputs)
    if p.suffix.lower() == ".csv":
        write_atomic_with(p, lambda tmp: df.to_csv(tmp, index=False))
    else:
        df = _parquet_ready(df)
        write_atomic_with(p, lambda tmp: df.to_parquet(tmp, index=False))


def _parquet_ready(df):
    """Parquet columns hold one type: a column mixing numbers and text is stored as text."""
    for name in df.columns:
        if df[name].dtype == object:
            kinds = {type(v) for v in df[name] if v is not None}
            if len(kinds) > 1 and str in kinds:
                df[name] = [None if v is None else str(v) for v in df[name]]
    return df
