"""Sphinx glue for the site's languages (``svclab.pages.LANGUAGE_NAMES``): switcher links, a
root redirect page, Chinese search."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import sphinx.search
from docutils import nodes
from sphinx.application import Sphinx
from sphinx.search.zh import SearchChinese

from svclab.pages import LANGUAGE_NAMES

ROOT_INDEX = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>svclab</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<script>
  // The first site language whose primary subtag the reader prefers (zh-TW -> zh_CN), else the first.
  var codes = {codes};
  var primary = function (tag) {{ return tag.split(/[-_]/)[0].toLowerCase(); }};
  var wanted = (navigator.languages || [navigator.language || ""]).map(primary);
  var code = wanted.map(function (w) {{
    return codes.find(function (c) {{ return primary(c) === w; }});
  }}).find(Boolean) || codes[0];
  location.replace(code + "/index.html");
</script></head>
<body><p>svclab: {links}</p></body></html>
"""


class ChineseSearch(SearchChinese):
    """Chinese search with a working stemmer.

    Sphinx 9.0.4 ships Chinese pages with the English stemmer code but names it
    ``ChineseStemmer`` in ``language_data.js``, so search breaks in the browser
    (sphinx-doc/sphinx#14229). Naming the language "English" for that line fixes it.
    """

    language_name = "English"


def add_language_links(
    app: Sphinx, pagename: str, templatename: str, context: dict, doctree: Any
) -> None:
    """Give every page the URL of the same page in each other language."""
    current = app.config.language
    context["svclab_language"] = current
    context["svclab_language_links"] = [
        (
            code,
            label,
            f"{context.get('content_root', '')}../{code}/{pagename}{context.get('file_suffix', '.html')}",
        )
        for code, label in LANGUAGE_NAMES.items()
        if code != current
    ]


def write_root_index(app: Sphinx, exception: Exception | None) -> None:
    """Write ``_build/html/index.html``, which sends readers to their language."""
    if exception or app.builder.name != "html":
        return
    links = " · ".join(
        f'<a href="{code}/index.html">{label}</a>' for code, label in LANGUAGE_NAMES.items()
    )
    Path(app.outdir).parent.joinpath("index.html").write_text(
        ROOT_INDEX.format(codes=json.dumps(list(LANGUAGE_NAMES)), links=links), encoding="utf-8"
    )


CJK = "\u3000-\u303f\u4e00-\u9fff\uff00-\uffef"
FULL_WIDTH = "\u3000-\u303f\uff00-\uffef"
CHINESE_LINE_BREAK = re.compile(
    f"(?<=[{CJK}])\n(?=[{CJK}])|(?<=[{FULL_WIDTH}])\n|\n(?=[{FULL_WIDTH}])"
)


def join_chinese_lines(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Drop source line breaks inside Chinese text, which browsers would show as stray spaces.

    A break between Chinese and Latin text stays: it renders as the space zh-cn typography wants.
    MyST gives a soft line break its own ``"\\n"`` text node, so neighbours are looked at too.
    """
    if not (app.config.language or "").startswith("zh"):
        return
    for text in list(doctree.findall(nodes.Text)):
        parent = text.parent
        if parent is None or isinstance(parent, (nodes.literal_block, nodes.literal, nodes.raw)):
            continue
        # Text nodes are strings: find this one by identity, not by equality.
        index = next(i for i, child in enumerate(parent.children) if child is text)
        before = parent[index - 1].astext()[-1:] if index > 0 else ""
        after = parent[index + 1].astext()[:1] if index + 1 < len(parent) else ""
        own = text.astext()
        if "\n" not in own:
            continue
        breaks = {
            match.start() - len(before)
            for match in CHINESE_LINE_BREAK.finditer(before + own + after)
            if len(before) <= match.start() < len(before) + len(own)
        }
        joined = "".join(char for i, char in enumerate(own) if i not in breaks)
        if joined != own:
            parent.children[index] = nodes.Text(joined)
            parent.children[index].parent = parent


def execute_in_page_language(app: Sphinx, config: Any) -> None:
    """Tell notebook kernels the page's language, and keep each language's outputs apart.

    Code cells are byte-identical in both trees, so one execution cache would hand the English
    figures to the Chinese pages: each language gets its own cache folder.
    """
    os.environ["SVCLAB_LANG"] = config.language
    config.nb_execution_cache_path = str(Path(config.nb_execution_cache_path) / config.language)


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("config-inited", execute_in_page_language, priority=100)
    sphinx.search.languages["zh"] = ChineseSearch
    app.connect("html-page-context", add_language_links)
    app.connect("build-finished", write_root_index)
    app.connect("doctree-resolved", join_chinese_lines)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
