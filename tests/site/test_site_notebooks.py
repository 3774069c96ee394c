"""Every MyST notebook runs top to bottom, and the build fails when a cell fails."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import nbclient
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(
    p for p in (ROOT / "docs").glob("*/**/*.md") if "file_format: mystnb" in p.read_text()[:200]
)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.relative_to(ROOT / "docs").as_posix())
def test_notebook_runs(path: Path) -> None:
    notebook = jupytext.read(path)
    client = nbclient.NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as exc:
        pytest.fail(f"{path.relative_to(ROOT)}: a cell failed:\n{exc}")


def sphinx_build(
    builder: str, source: Path, out: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-n",
            "-q",
            "-c",
            str(ROOT / "docs"),
            "-b",
            builder,
            *extra,
            str(source),
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_sphinx_doctest_builder(lang: str, tmp_path: Path) -> None:
    result = sphinx_build(
        "doctest",
        ROOT / "docs" / lang,
        tmp_path,
        "-D",
        f"language={lang}",
        "-D",
        "nb_execution_mode=cache",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = (tmp_path / "output.txt").read_text()
    assert "0 failures in tests" in report, report
    assert "Test passed." in report and "\n    0 tests" not in report, report


def test_a_failing_cell_fails_the_build(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    shutil.copy(ROOT / "docs" / "en" / "part1" / "what-is-a-service.md", source / "index.md")
    page = source / "index.md"
    page.write_text(
        page.read_text() + "\n```{code-cell} python\nraise RuntimeError('deliberate')\n```\n"
    )
    result = sphinx_build("html", source, tmp_path / "out", "-D", "nb_execution_mode=force")
    assert result.returncode != 0
    assert "Executing notebook failed" in result.stderr, result.stderr
    log = next((tmp_path / "out" / "reports").glob("*.err.log")).read_text()
    assert re.search(r"RuntimeError\S*: deliberate", log), log
