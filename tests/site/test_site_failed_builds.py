"""A failed build is never accepted later: the next build fails again until the cause is fixed.

A one-page project in a temporary folder, built as ``nox -s docs`` builds (``-W --keep-going``)
with the site's notebook settings from docs/conf.py and its extension docs/_ext/forget_failed_builds.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

CONF = f"""
import runpy, sys
site = runpy.run_path({str(DOCS / "conf.py")!r})
globals().update({{k: v for k, v in site.items() if k.startswith(("nb_", "myst_"))}})
sys.path.insert(0, {str(DOCS / "_ext")!r})
extensions = ["myst_nb", "forget_failed_builds"]
nb_execution_cache_path = "../cache"
"""

PAGE = """---
file_format: mystnb
kernelspec:
  name: python3
---
# A page

```{{code-cell}} python
{cell}
```
"""


def build(source: Path) -> subprocess.CompletedProcess[str]:
    """Build `source` into its sibling ``out``, as ``nox -s docs`` builds a language."""
    argv = ["-W", "--keep-going", "-n", "-q", "-b", "html", str(source), str(source.parent / "out")]
    return subprocess.run(
        [sys.executable, "-m", "sphinx", *argv], capture_output=True, text=True, timeout=300
    )


def test_a_failed_build_fails_again_until_fixed_and_then_builds_clean(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "conf.py").write_text(CONF)
    page = source / "index.md"
    page.write_text(PAGE.format(cell="print('all' + ' good')"))
    assert build(source).returncode == 0

    page.write_text(PAGE.format(cell="raise RuntimeError('deliberate')"))
    broken = build(source)
    assert broken.returncode != 0 and "Executing notebook failed" in broken.stderr, broken.stderr
    again = build(source)  # nothing changed: the failure must not turn into a pass
    assert again.returncode != 0 and "Executing notebook failed" in again.stderr, again.stderr

    page.write_text(PAGE.format(cell="print('all' + ' good')"))
    fixed = build(source)
    assert (fixed.returncode, fixed.stderr) == (0, "")
    html = (tmp_path / "out" / "index.html").read_text()
    assert "all good" in html and "deliberate" not in html
