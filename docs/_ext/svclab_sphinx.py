"""Sphinx glue for the two-language site: switcher links, a root redirect page, Chinese search."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sphinx.search
from sphinx.application import Sphinx
from sphinx.search.zh import SearchChinese

ROOT_INDEX = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>svclab</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<script>
  var zh = (navigator.languages || [navigator.language || ""]).some(function (l) {{
    return /^zh/i.test(l);
  }});
  location.replace((zh ? "zh_CN" : "en") + "/index.html");
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


def add_language_links(app: Sphinx, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    """Give every page the URL of the same page in each other language."""
    current = app.config.language
    context["svclab_language"] = current
    context["svclab_language_links"] = [
        (code, label, f"{context.get('content_root', '')}../{code}/{pagename}{context.get('file_suffix', '.html')}")
        for code, label in app.config.svclab_languages.items()
        if code != current
    ]


def write_root_index(app: Sphinx, exception: Exception | None) -> None:
    """Write ``_build/html/index.html``, which sends readers to their language."""
    if exception or app.builder.name != "html":
        return
    links = " · ".join(
        f'<a href="{code}/index.html">{label}</a>' for code, label in app.config.svclab_languages.items()
    )
    Path(app.outdir).parent.joinpath("index.html").write_text(ROOT_INDEX.format(links=links), encoding="utf-8")


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("svclab_languages", {"en": "English"}, "html")
    sphinx.search.languages["zh"] = ChineseSearch
    app.connect("html-page-context", add_language_links)
    app.connect("build-finished", write_root_index)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
