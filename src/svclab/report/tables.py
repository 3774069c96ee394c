"""Plain-text tables for the terminal: benchmarks, experiments and CLI reports."""

from __future__ import annotations


def format_table(rows: list[dict]) -> str:
    """Rows of dicts as an aligned text table.

    >>> print(format_table([{"mode": "iptables", "seconds": 0.5}, {"mode": "nft", "seconds": 12}]))
    mode      seconds
    iptables  0.5
    nft       12
    """
    if not rows:
        return "(no rows)"
    columns = list(dict.fromkeys(key for row in rows for key in row))
    cells = [[str(row.get(c, "")) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)
