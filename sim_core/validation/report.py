"""``validate``'s tables: plain text for a terminal, Markdown for the guide.

The guide's table is this module's Markdown of ``all_cases()``, pasted between two marker
lines; a test regenerates it and fails when the committed copy drifts from the code.

Each case may carry a ``role``: ``calibration`` (a published measurement a free parameter was
fitted on), ``validation`` (a published measurement nothing was fitted on) or ``check`` (a
closed form or a bound the engine must meet; the default). Identities of the model are not
cases at all: they are unit tests.
"""
from __future__ import annotations

ROLES = {
    "calibration": "Calibration: published measurements the free parameters were fitted on",
    "validation": "Validation: published measurements nothing was fitted on",
    "check": "Closed forms and bounds: what the engine must reproduce exactly or stay under",
}
GUIDE_BEGIN = "<!-- validate --markdown: begin -->"
GUIDE_END = "<!-- validate --markdown: end -->"


def role(row: dict) -> str:
    return row.get("role", "check")


def _error_text(row: dict) -> str:
    if row["kind"] == "equal":
        return f"{row['error']:+.1e}" if role(row) == "check" else f"{row['error']:+.1%}"
    return f"{row['simulated'] / row['expected']:.0%} of the bound"


def summary(rows: list[dict]) -> str:
    ok = sum(r["ok"] for r in rows)
    by_role = {k: [r for r in rows if role(r) == k] for k in ROLES}
    parts = [f"{sum(r['ok'] for r in rs)} of {len(rs)} {k}" for k, rs in by_role.items() if rs]
    return f"{ok} of {len(rows)} cases within their tolerance ({', '.join(parts)})."


def markdown(rows: list[dict]) -> str:
    """One table per role, in ``ROLES`` order, then the summary line."""
    out = []
    for key, title in ROLES.items():
        rs = [r for r in rows if role(r) == key]
        if not rs:
            continue
        out += [f"**{title}**", "", "| case | expected | simulated | error | tolerance | source |",
                "|---|---|---|---|---|---|"]
        for r in rs:
            tol = f"{r['tolerance']:.0%}" if r["tolerance"] >= 0.01 else f"{r['tolerance']:.0e}"
            tol = "bound" if r["kind"] != "equal" else tol
            mark = "" if r["ok"] else " **(outside)**"
            out.append(f"| {r['name']} | {r['expected']:.6g} {r['unit']} | {r['simulated']:.6g} {r['unit']} "
                       f"| {_error_text(r)}{mark} | {tol} | {r['source']} |")
        out.append("")
    out.append(summary(rows))
    return "\n".join(out)


def text(rows: list[dict]) -> str:
    """The terminal table: one line a case, grouped by role."""
    lines = []
    for key, title in ROLES.items():
        rs = [r for r in rows if role(r) == key]
        if not rs:
            continue
        lines += ["", title, f"{'case':78s} {'expected':>12s} {'simulated':>12s} {'error':>10s}"]
        for r in rs:
            mark = "" if r["ok"] else "  <-- outside its tolerance"
            lines.append(f"{r['name'][:78]:78s} {r['expected']:12.6g} {r['simulated']:12.6g} {r['error']:+10.2e} "
                         f"{r['unit']}{mark}")
    lines.append(summary(rows))
    return "\n".join(lines).lstrip("\n")


def splice(document: str, table: str) -> str:
    """``document`` with the text between the guide's marker lines replaced by ``table``."""
    head, sep, rest = document.partition(GUIDE_BEGIN)
    if not sep:
        raise ValueError(f"marker {GUIDE_BEGIN!r} not found")
    _, sep2, tail = rest.partition(GUIDE_END)
    if not sep2:
        raise ValueError(f"marker {GUIDE_END!r} not found")
    return f"{head}{GUIDE_BEGIN}\n{table}\n{GUIDE_END}{tail}"
