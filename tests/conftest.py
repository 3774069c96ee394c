"""Shared test helpers: a skip that CI turns into a failure, and the built site.

At the end of a run, pytest's summary lists every test skipped for want of a system package
and the one ``apt-get install`` line that would run them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from svclab.pages import LANGUAGES

SITE = Path(__file__).resolve().parents[1] / "_build" / "html"
"""Where ``nox -s site`` (and ``nox -s docs``) build the site."""


class Unmet(pytest.skip.Exception):
    """A skip for a missing prerequisite; `apt` names the Debian packages that provide it."""

    def __init__(self, reason: str, apt: tuple[str, ...]) -> None:
        super().__init__(reason)
        self.apt = apt


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: bool, reason: str, *, apt: str = "") -> None:
    """Skip with `reason` when `condition` is false; in CI (``CI=true``) fail instead.

    `apt` lists, space-separated, the Debian packages that would meet the need; the run's
    summary gathers them into one install line. CI runs as root on Linux with every system
    package installed, so a missing prerequisite there is a broken CI, not a reason to skip.
    """
    if condition:
        return
    if in_ci():
        pytest.fail(f"CI must run this test, but: {reason}")
    raise Unmet(reason, tuple(apt.split()))


@pytest.fixture(scope="session")
def built_site() -> Path:
    """The built site (``_build/html``); a test that uses it is marked ``site``."""
    missing = [lang for lang in LANGUAGES if not (SITE / lang / "index.html").exists()]
    require(not missing, f"the site is not built ({', '.join(missing)}): run `nox -s site` first")
    return SITE


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``site`` every test that needs the built site: ``nox -s tests`` leaves them to
    ``nox -s site``, which builds the site first."""
    for item in items:
        if "built_site" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.site)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """Keep an unmet prerequisite's reason and packages on its report, worded as a plain skip."""
    report = yield
    if call.excinfo is not None and isinstance(call.excinfo.value, Unmet):
        report.svclab_unmet = (call.excinfo.value.msg, call.excinfo.value.apt)
        path, line, _ = report.longrepr
        report.longrepr = (path, line, f"Skipped: {call.excinfo.value.msg}")
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """List the tests skipped for a missing system package, and the apt line that runs them.

    Per reason, the files and how many of their tests skipped (``-v``: every test).
    """
    unmet = [r for r in terminalreporter.stats.get("skipped", []) if hasattr(r, "svclab_unmet")]
    packages = sorted({package for r in unmet for package in r.svclab_unmet[1]})
    if not packages:
        return
    terminalreporter.section("skipped: these tests need system packages")
    by_reason: dict[str, dict[str, list[str]]] = {}
    for report in unmet:
        if report.svclab_unmet[1]:
            files = by_reason.setdefault(report.svclab_unmet[0], {})
            files.setdefault(report.nodeid.split("::")[0], []).append(report.nodeid)
    verbose = terminalreporter.config.option.verbose > 0
    for reason, files in by_reason.items():
        terminalreporter.line(reason)
        for path, ids in files.items():
            for shown in ids if verbose else [f"{path}: {len(ids)} tests"]:
                terminalreporter.line(f"    {shown}")
    skipped = sum(len(ids) for files in by_reason.values() for ids in files.values())
    terminalreporter.line(
        f"{skipped} tests skipped; to run them, as root: apt-get install {' '.join(packages)}",
        bold=True,
    )
