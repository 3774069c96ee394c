"""Checks on the built HTML that no source file shows: what the reader actually gets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

SITE = Path(__file__).resolve().parents[2] / "_build" / "html"
CJK = "\u3000-\u303f\u4e00-\u9fff\uff00-\uffef"


@pytest.fixture(scope="module")
def chinese_pages(built_site: Path) -> list[Path]:
    return [p for p in (SITE / "zh_CN").rglob("*.html") if "_static" not in p.parts]


def test_no_stray_spaces_between_chinese_characters(chinese_pages: list[Path]) -> None:
    """A source line break inside Chinese text must not reach the page (it shows as a space)."""
    stray = []
    for page in chinese_pages:
        for paragraph in re.findall(r"<p>(.*?)</p>", page.read_text(), flags=re.S):
            if re.search(f"[{CJK}]\\n[{CJK}]", paragraph):
                stray.append(f"{page.relative_to(SITE)}: {paragraph[:60]!r}")
    assert stray == []


def test_pages_declare_their_language(chinese_pages: list[Path]) -> None:
    for page in chinese_pages:
        assert '<html lang="zh-CN"' in page.read_text(), page
