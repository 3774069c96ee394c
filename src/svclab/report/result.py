"""What every experiment returns: a tidy table of rows, printable, plottable in two languages."""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import matplotlib
from matplotlib.figure import Figure

from svclab.report.fonts import figure_fonts
from svclab.report.tables import format_table

LANGS = ("en", "zh_CN")
"""Languages a figure can be labelled in."""

Text = Mapping[str, str]
"""One phrase per language, e.g. ``{"en": "failed requests", "zh_CN": "失败请求"}``."""

PNG_DPI = 120
"""Resolution of the PNG a notebook shows."""


def say(text: Text, lang: str) -> str:
    """The phrase for `lang`.

    >>> say({"en": "requests", "zh_CN": "请求"}, "zh_CN")
    '请求'
    """
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}; choose from {', '.join(LANGS)}")
    return text[lang]


def drawing_rc() -> dict[str, Any]:
    """rcParams for drawing figure text: a CJK-capable font list, and an ASCII minus sign
    because CJK fonts lack U+2212."""
    return {"font.family": figure_fonts(), "axes.unicode_minus": False}


class ResultFigure(Figure):
    """A figure that Jupyter (and so MyST-NB's ``glue``) shows as a PNG even when pyplot,
    which registers matplotlib's display hooks, was never imported."""

    def _repr_png_(self) -> bytes:
        out = io.BytesIO()
        with matplotlib.rc_context(drawing_rc()):
            self.savefig(out, format="png", dpi=PNG_DPI)
        return out.getvalue()


def cell(value: Any) -> str:
    """A table cell: floats rounded for reading.

    >>> [cell(v) for v in (3, 0.123456, 1234.5678, 123456.7, float("inf"), True, "x")]
    ['3', '0.1235', '1235', '123457', 'inf', 'yes', 'x']
    """
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}"
    return str(value)


def format_rows(rows: list[dict]) -> str:
    """Rows of dicts as an aligned text table.

    >>> print(format_rows([{"ttl": 0, "qps": 300.0}, {"ttl": 30, "qps": 1.5}]))
    ttl  qps
    0    300
    30   1.5
    """
    return format_table([{key: cell(value) for key, value in row.items()} for row in rows])


@dataclass
class Result:
    """An experiment's outcome: `rows` for tables and tests, `data` for its figure."""

    name: str
    rows: list[dict]
    data: dict[str, Any] = field(default_factory=dict, repr=False)
    draw: Callable[[Result, Figure, str], None] | None = field(default=None, repr=False)

    def to_text(self) -> str:
        """The rows as an aligned table."""
        return format_rows(self.rows)

    def figure(self, lang: str = "en") -> ResultFigure:
        """A new matplotlib figure of the result, titled and labelled in `lang`.

        >>> Result("demo", []).figure("zh_CN")._repr_png_()[:4]
        b'\\x89PNG'
        """
        say({"en": "", "zh_CN": ""}, lang)  # reject an unknown language before drawing
        # Text takes its family list when created, so the context only needs to cover drawing
        with matplotlib.rc_context(drawing_rc()):
            fig = ResultFigure(figsize=(10, 5), layout="constrained")
            if self.draw is not None:
                self.draw(self, fig, lang)
        return fig

    def where(self, **match: Any) -> list[dict]:
        """Rows whose columns equal every given value.

        >>> Result("demo", [{"a": 1, "b": 2}, {"a": 1, "b": 3}]).where(b=3)
        [{'a': 1, 'b': 3}]
        """
        return [row for row in self.rows if all(row.get(k) == v for k, v in match.items())]

    def one(self, **match: Any) -> dict:
        """The single row matching, or an error naming the match."""
        found = self.where(**match)
        if len(found) != 1:
            raise LookupError(f"{len(found)} rows match {match} in {self.name}")
        return found[0]
