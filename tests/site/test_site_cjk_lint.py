"""Chinese typography, checked by autocorrect (the CJK linter Chinese docs projects use) on
every Chinese page source, every Chinese string a figure or table shows, and the built pages."""

from __future__ import annotations

import ast
import re
from html.parser import HTMLParser
from pathlib import Path

import autocorrect_py
import pytest

ROOT = Path(__file__).resolve().parents[2]
ZH = ROOT / "docs" / "zh_CN"
SITE = ROOT / "_build" / "html" / "zh_CN"
CJK = "\u3000-\u303f\u4e00-\u9fff\uff00-\uffef"
HAN = "\u4e00-\u9fff"
SKIPPED_TAGS = {"pre", "code", "script", "style", "kbd"}
"""Code is code."""


def findings(text: str, filename: str) -> list[str]:
    """autocorrect's findings for `text`, linted as `filename` says (``.md``: MyST/Markdown,
    code and links untouched), one ``line: old -> new`` each."""
    result = autocorrect_py.lint_for(text, filename)
    return [f"{r.line}: {r.old.strip()} -> {r.new.strip()}" for r in result.lines]


def own_rules(text: str) -> list[str]:
    """What autocorrect does not check: half-width ``:`` or ``(`` next to Chinese, and
    numbers with a useless ``.0`` before a unit or a percent sign."""
    problems = []
    if re.search(f"[{HAN}][:(]|[:)][{HAN}]", text):
        problems.append(f"half-width punctuation beside Chinese: {text}")
    if re.search(rf"(?<![\d.])\d+\.0(?![\d.])\s*(%|[{HAN}])", text):
        problems.append(f"a number with a useless .0: {text}")
    return problems


def test_the_linter_catches_what_the_readers_found() -> None:
    assert findings("这是**要点**。 然后， CoreDNS 作者： 张三", "x.md")
    assert own_rules("ndots:5 查询放大及其修正: api") and own_rules("有 2.0 个")
    assert not findings("使用 Service 公开，端口 80。", "x.md")
    assert not own_rules("有 2 个，占 100 %")


@pytest.mark.parametrize("page", sorted(p.relative_to(ZH).as_posix() for p in ZH.rglob("*.md")))
def test_chinese_page_sources_pass_autocorrect(page: str) -> None:
    assert findings((ZH / page).read_text(encoding="utf-8"), page) == []


def chinese_strings() -> list[tuple[str, str]]:
    """(where, text) of every ``"zh_CN": "…"`` string in src/svclab: figure titles, legends,
    axis labels, table headers and values."""
    found = []
    for path in sorted((ROOT / "src" / "svclab").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Dict):
                continue
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "zh_CN":
                    parts = (
                        [value] if isinstance(value, ast.Constant) else getattr(value, "values", [])
                    )
                    text = "".join(
                        p.value
                        for p in parts
                        if isinstance(p, ast.Constant) and isinstance(p.value, str)
                    )
                    if text:
                        found.append((f"{path.relative_to(ROOT)}:{value.lineno}", text))
    return found


def test_chinese_strings_are_found() -> None:
    assert len(chinese_strings()) > 100


def test_chinese_figure_and_table_strings_pass_autocorrect() -> None:
    bad = [
        f"{where}: {problem}"
        for where, text in chinese_strings()
        for problem in findings(text, "strings.txt") + own_rules(text)
    ]
    assert bad == []


class _Text(HTMLParser):
    """The text a reader reads, block by block, outside code and links."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks: list[str] = []
        self.skip = 0
        self.headerlink = 0
        self.current: list[str] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in SKIPPED_TAGS or ("class", "headerlink") in attrs:
            self.skip += 1
            self.headerlink += tag == "a"
        elif tag in {"p", "li", "td", "th", "figcaption", "h1", "h2", "h3", "dt", "dd"}:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self.headerlink:
            self.headerlink -= 1
            self.skip -= 1
        elif tag in SKIPPED_TAGS:
            self.skip = max(0, self.skip - 1)
            if not self.skip:
                self.current.append("x")  # code stands for a Latin word
        elif tag in {"p", "li", "td", "th", "figcaption", "h1", "h2", "h3", "dt", "dd"}:
            self._flush()

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.current.append(data)

    def _flush(self) -> None:
        text = re.sub(r"\s+", " ", "".join(self.current)).strip()
        if re.search(f"[{CJK}]", text):
            self.blocks.append(text)
        self.current = []


NOT_YET_CLEAN = {
    "part2/env-vars-vs-dns.html",
    "part2/proxy-modes.html",
    "part2/service-types.html",
    "part2/traffic-policies.html",
    "questions.html",
}
"""Built Chinese pages with known findings in what only the build typesets (glued numbers such as
``50.0%``, table cells such as ``每个节点:31808``, link titles beside spaces): issues 14 and 15 stay
open until each is mended; take a page out of this set then. Their sources pass the lint above."""


def built_pages() -> list[Path]:
    return sorted(p for p in SITE.rglob("*.html") if not {"_static", "_sources"} & set(p.parts))


@pytest.mark.usefixtures("built_site")
def test_built_chinese_pages_pass_autocorrect() -> None:
    """Glued numbers, table cells and captions are only typeset in the built page."""
    bad = []
    for page in built_pages():
        if page.name in {"search.html", "genindex.html"}:
            continue
        if page.relative_to(SITE).as_posix() in NOT_YET_CLEAN:
            continue
        html = page.read_text(encoding="utf-8")
        article = re.search(r"<article.*?</article>", html, flags=re.S)
        parser = _Text()
        parser.feed(article.group(0) if article else "")
        for text in parser.blocks:
            for problem in findings(text, "page.txt") + own_rules(text):
                bad.append(f"{page.relative_to(SITE)}: {problem}")
    assert bad == []
