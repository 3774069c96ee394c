"""Helpers for the site's notebooks: what a page needs that is not part of the lesson.

The build tells the notebook kernel which language it is executing through ``SVCLAB_LANG``
(set by the docs extension); a reader running a notebook in JupyterLab gets the language of the
``docs/<lang>/`` folder the notebook sits in. So no cell names its language.
"""

from __future__ import annotations

import os
from pathlib import Path

LANGUAGE_NAMES = {"en": "English", "zh_CN": "简体中文"}
"""The site's languages, in the order the site lists them, each named in itself (the switcher)."""

LANGUAGES = tuple(LANGUAGE_NAMES)
"""The site's language codes: one ``docs/<code>/`` tree and one build each."""

LANGUAGE_VARIABLE = "SVCLAB_LANG"
"""The environment variable through which the build names the page's language."""


def language(cwd: Path | None = None) -> str:
    """The language of the page being executed: ``$SVCLAB_LANG``, else the ``docs/<lang>``
    folder the notebook runs in (``cwd``, default the current directory), else English.

    >>> language(Path("/site/docs/zh_CN/part1")) if not os.environ.get("SVCLAB_LANG") else "zh_CN"
    'zh_CN'
    >>> language(Path("/tmp")) if not os.environ.get("SVCLAB_LANG") else "en"
    'en'
    """
    named = os.environ.get(LANGUAGE_VARIABLE, "")
    if named in LANGUAGES:
        return named
    folders = (cwd or Path.cwd()).resolve().parts
    return next((lang for lang in reversed(folders) if lang in LANGUAGES), "en")
