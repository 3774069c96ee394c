"""Rows of dicts shown as an HTML table in a page (and as aligned text in a terminal)."""

from __future__ import annotations

import html

from svclab.report.tables import format_table


class Table:
    """A table a notebook cell can end with: Jupyter shows its HTML, ``print`` its text.

    >>> table = Table([{"type": "ClusterIP", "ip": "10.96.0.10"}])
    >>> table
    type       ip
    ClusterIP  10.96.0.10
    >>> table._repr_html_().count("<td>")
    2
    """

    def __init__(self, rows: list[dict]) -> None:
        self.rows = rows

    def __str__(self) -> str:
        return format_table(self.rows)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        columns = list(dict.fromkeys(key for row in self.rows for key in row))
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
        body = "".join(
            "<tr>"
            + "".join(f"<td>{html.escape(str(row.get(c, '')))}</td>" for c in columns)
            + "</tr>"
            for row in self.rows
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
