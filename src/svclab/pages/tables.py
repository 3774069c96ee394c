"""Tables a page shows: rows of dicts with headers, units and values in the page's language.

A `Table` is the last expression of a cell: Jupyter shows it as an HTML table, a terminal
as aligned text.

>>> t = table([{"recover_s": float("inf"), "reuse": False}], "zh_CN")
>>> t.headers, t.cells
(['恢复用时（秒）', '复用连接'], [['从未恢复', '否']])
>>> "<th>恢复用时（秒）</th>" in t._repr_html_()
True
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from svclab.experiments.words import header, value
from svclab.pages.discovery import CLIENTS, LABELS
from svclab.report.result import Result


@dataclass(frozen=True)
class Table:
    """Headers and cells, already in the reader's language."""

    headers: list[str]
    cells: list[list[str]]

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.headers)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
            for row in self.cells
        )
        return f'<table class="svclab-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'

    def __repr__(self) -> str:
        rows = [self.headers, *self.cells]
        widths = [max(width(row[i]) for row in rows) for i in range(len(self.headers))]
        return "\n".join(
            "  ".join(c + " " * (w - width(c)) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in rows
        )


def width(text: str) -> int:
    """Columns `text` takes in a terminal: a CJK character takes two.

    >>> width("TTL（秒）"), width("ttl")
    (9, 3)
    """
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


PAGE_VALUES = {group: LABELS[group] for group in CLIENTS}
"""Ids only the pages use (the discovery page's client groups), by language."""


def cell(x: object, column: str, lang: str) -> str:
    """`x` as a cell of `column` in `lang`."""
    return (
        PAGE_VALUES[x][lang] if isinstance(x, str) and x in PAGE_VALUES else value(x, column, lang)
    )


def table(rows: Result | Iterable[dict], lang: str) -> Table:
    """A `Table` of `rows` (or of an experiment's rows) in `lang`."""
    rows = list(rows.rows if isinstance(rows, Result) else rows)
    columns = list(dict.fromkeys(key for row in rows for key in row))
    return Table(
        [header(c, lang) for c in columns],
        [[cell(row.get(c, ""), c, lang) for c in columns] for row in rows],
    )
