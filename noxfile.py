"""Tasks for svclab: ``nox -l`` lists them, ``nox -s NAME`` runs one.

Every session installs the package from ``pyproject.toml`` with ``constraints.txt`` pinning
every dependency, so every machine builds and tests with the same versions. ``nox -s tests site``
runs every test: ``tests`` builds no site, ``site`` builds it and runs the tests that need it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox

ROOT = Path(__file__).parent
BUILD = ROOT / "_build"
SITE = BUILD / "html"

nox.options.sessions = ["lint", "tests", "site"]
nox.options.reuse_venv = "yes"
nox.options.default_venv_backend = "venv"


def install(session: nox.Session, extras: str) -> None:
    """Install svclab with the given extras, every version pinned by constraints.txt."""
    session.install("-c", "constraints.txt", "-e", f".[{extras}]")


def languages(session: nox.Session) -> list[str]:
    """The site's languages, as the installed package lists them (``svclab.pages.LANGUAGES``)."""
    listed = session.run(
        "python", "-c", "from svclab.pages import LANGUAGES; print(*LANGUAGES)", silent=True
    )
    return listed.split()


def build_site(session: nox.Session, *extra: str) -> None:
    """Build every language into _build/html (notebooks run through the execution cache)."""
    for lang in languages(session):
        session.run(
            "sphinx-build",
            "-W",
            "--keep-going",
            "-n",
            "-q",
            "-c",
            "docs",
            "-b",
            "html",
            "-D",
            f"language={lang}",
            *extra,
            f"docs/{lang}",
            str(SITE / lang),
        )
    session.log(f"site built: {SITE / 'index.html'}")


@nox.session
def docs(session: nox.Session) -> None:
    """Build every language with -W --keep-going -n, plus a root page that picks the reader's language."""
    install(session, "docs")
    build_site(session, *session.posargs)


@nox.session
def serve(session: nox.Session) -> None:
    """Build the site, then serve it on http://127.0.0.1:8000 (Ctrl-C stops; rebuild with `nox -s docs`)."""
    install(session, "docs")
    build_site(session)
    session.log("serving http://127.0.0.1:8000 (Ctrl-C to stop)")
    session.run(
        "python", "-m", "http.server", "8000", "--bind", "127.0.0.1", "--directory", str(SITE)
    )


@nox.session
def tests(session: nox.Session) -> None:
    """Every test but those of the built site: unit and doctests over src/, notebooks executed,
    Sphinx doctest, parity, kernel. Builds no site (``nox -s tests site`` runs everything).

    Extra arguments go to pytest, e.g. ``nox -s tests -- -k dns``.
    """
    install(session, "test,fast")
    session.run("pytest", "--doctest-modules", "-m", "not site", *session.posargs)


@nox.session
def site(session: nox.Session) -> None:
    """Build the site, then run the tests of the built site (marked ``site``: browser, built HTML).

    Extra arguments go to pytest, e.g. ``nox -s site -- -k search``.
    """
    install(session, "test,fast")
    build_site(session)
    session.run("pytest", "-m", "site", *session.posargs)


@nox.session
def lab(session: nox.Session) -> None:
    """Open JupyterLab on the notebooks of one language: ``nox -s lab -- zh_CN`` (default en).

    Further arguments go to JupyterLab, e.g. ``nox -s lab -- en --no-browser``.
    """
    install(session, "lab")
    lang = session.posargs[0] if session.posargs else "en"
    if lang not in (known := languages(session)):
        session.error(f"unknown language {lang!r}; choose one of {', '.join(known)}")
    # Project settings: Markdown files open as Jupytext notebooks, ready to run.
    session.env["JUPYTERLAB_SETTINGS_DIR"] = str(ROOT / "docs" / "_jupyterlab")
    as_root = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    session.run(
        "jupyter",
        "lab",
        f"--notebook-dir=docs/{lang}",
        "--ip=127.0.0.1",
        *as_root,
        *session.posargs[1:],
    )


@nox.session
def lint(session: nox.Session) -> None:
    """Check formatting and lint with ruff (``nox -s lint -- --fix`` to fix what it can)."""
    session.install("-c", "constraints.txt", "ruff")
    fix = "--fix" in session.posargs
    session.run("ruff", "format", *([] if fix else ["--check"]), ".")
    session.run("ruff", "check", *(["--fix"] if fix else []), ".")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks, as ratios against a baseline run in the same run (slow: minutes).

    ``nox -s bench -- --quick`` for a smoke run; ``nox -s bench -- dns`` for one benchmark.
    """
    install(session, "test,fast")
    session.run("python", "-m", "svclab.bench", *session.posargs)


@nox.session
def lock(session: nox.Session) -> None:
    """Regenerate constraints.txt from a fresh resolution of every extra."""
    session.install("-e", ".[test,lab,lint,fast]")
    frozen = session.run("python", "-m", "pip", "freeze", "--exclude-editable", silent=True)
    Path("constraints.txt").write_text(
        "# Generated by `nox -s lock`: the versions every session installs.\n" + frozen
    )


@nox.session(venv_backend="none")
def clean(session: nox.Session) -> None:
    """Remove the build folder and the notebook execution cache."""
    shutil.rmtree(BUILD, ignore_errors=True)
