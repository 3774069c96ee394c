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
    report = yield
    if call.excinfo is not None and isinstance(call.excinfo.value, Unmet):
        report.svclab_apt = call.excinfo.value.apt
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """List the tests skipped for a missing system package, and the apt line that runs them."""
    unmet = [r for r in terminalreporter.stats.get("skipped", []) if getattr(r, "svclab_apt", ())]
    if not unmet:
        return
    terminalreporter.section("skipped for want of system packages")
    for report in unmet:
        reason = report.longrepr[2].removeprefix("Skipped: ")
        terminalreporter.line(f"{report.nodeid}: {reason}")
    packages = sorted({package for report in unmet for package in report.svclab_apt})
    terminalreporter.line(
        f"{len(unmet)} tests skipped; to run them, as root: apt-get install {' '.join(packages)}"
    )
