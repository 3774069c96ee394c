"""The site's glossary (``docs/glossary.csv``) as a table in the page's language.

>>> t = glossary_table("zh_CN")
>>> t.headers
['英文', '中文', '应避免的译法', '说明']
>>> next(row for row in t.cells if row[0] == "Pod")[2]
'pods、豆荚'
"""

from __future__ import annotations

import csv

from svclab.pages.paths import ROOT
from svclab.pages.tables import Table

GLOSSARY = ROOT / "docs" / "glossary.csv"
HEADERS = {
    "en": ["English", "Chinese", "avoid", "note"],
    "zh_CN": ["英文", "中文", "应避免的译法", "说明"],
}
AVOID_SEPARATOR = "|"
"""How the CSV separates the variants to avoid (a test reads them too)."""


def glossary_table(lang: str) -> Table:
    """One row per term: English, Chinese, the variants to avoid, the note in `lang`."""
    joiner = "、" if lang == "zh_CN" else ", "
    with GLOSSARY.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return Table(
        HEADERS[lang],
        [
            [
                row["en"],
                row["zh_CN"],
                joiner.join(filter(None, row["avoid"].split(AVOID_SEPARATOR))) or "—",
                row["note_zh_CN"] if lang == "zh_CN" else row["note"],
            ]
            for row in rows
        ],
    )
