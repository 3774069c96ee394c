"""Sphinx configuration shared by every language tree (docs/en, docs/zh_CN).

Build one language with
``sphinx-build -c docs -D language=<en|zh_CN> docs/<lang> _build/html/<lang>``;
``nox -s docs`` builds them all (the languages are ``svclab.pages.LANGUAGES``).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE / "_ext"))

project = "svclab"
author = "svclab authors"
copyright = "2026, svclab authors"
language = "en"  # overridden per tree with -D language=zh_CN

extensions = [
    "myst_nb",
    "sphinx.ext.doctest",
    "sphinx_copybutton",
    "sphinx_togglebutton",
    "svclab_sphinx",
    "forget_failed_builds",
]

templates_path = ["_templates"]
html_static_path = ["_static"]
exclude_patterns = ["_build", "jupyter_execute", "**.ipynb_checkpoints"]

# sphinx-book-theme: made for executed notebooks (wide outputs, cell tags, margin notes) and it
# ships every asset it needs (no web fonts or CDNs), so the site works offline and from file://.
html_theme = "sphinx_book_theme"
html_title = "svclab"
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "navigation_with_keys": False,
}
html_sidebars = {
    "**": [
        "navbar-logo.html",
        "language-switch.html",
        "search-button-field.html",
        "sbt-sidebar-nav.html",
    ]
}
html_last_updated_fmt = None
html_copy_source = False

myst_enable_extensions = ["colon_fence", "deflist", "dollarmath", "substitution", "attrs_inline"]
myst_heading_anchors = 0

# Notebooks run in the build; a cell that fails is a warning, and -W turns it into a failed build.
nb_execution_mode = "cache"
nb_execution_timeout = 120
nb_execution_raise_on_error = False
nb_output_stderr = "warn"
nb_merge_streams = True


CACHE_KEY_SOURCES = (
    "src/svclab/**/*.py",
    "examples/**/*.py",
    "labs/manifests/**/*.yaml",
    "docs/glossary.csv",
    "docs/_data/**/*.json",
)
"""What notebooks run or read beyond their own cells: a change here re-executes them."""


def _source_hash() -> str:
    """A hash of the code and data notebooks use: outputs are cached per version of it."""
    digest = hashlib.sha256()
    paths = {path for pattern in CACHE_KEY_SOURCES for path in ROOT.glob(pattern)}
    for path in sorted(paths):
        digest.update(path.relative_to(ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


nb_execution_cache_path = str(ROOT / "_build" / ".jupyter_cache" / _source_hash())

copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True

html_search_options = {"dict": str(HERE / "_ext" / "zh_search_dict.txt")}
html_css_files = ["svclab.css"]
