"""The built site in a real browser (Debian's headless Chromium): switcher, search, offline.

Needs the site built into _build/html (``nox -s tests`` builds it first).
"""

from __future__ import annotations

import functools
import http.server
import importlib.util
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlparse

import pytest
from conftest import require

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "_build" / "html"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.browser


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site_url() -> Iterator[str]:
    require((SITE / "en" / "index.html").exists(), "the site is not built: run `nox -s docs` first")
    handler = functools.partial(QuietHandler, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    require(
        Path(CHROMIUM).exists(), "Debian's chromium is not installed (apt-get install chromium)"
    )
    require(importlib.util.find_spec("playwright") is not None, "playwright is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    """A page that refuses, and records, every request that is not for 127.0.0.1 or a file."""
    context = browser.new_context()
    page = context.new_page()
    page.outside = []

    def guard(route: object) -> None:
        url = urlparse(route.request.url)
        if url.scheme in ("file", "data", "blob") or url.hostname == "127.0.0.1":
            route.continue_()
        else:
            page.outside.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    yield page
    context.close()


def html_pages(lang: str) -> list[str]:
    skip = {"search.html", "genindex.html"}
    return sorted(
        p.relative_to(SITE / lang).as_posix()
        for p in (SITE / lang).rglob("*.html")
        if p.name not in skip and "_static" not in p.parts and "jupyter_execute" not in p.parts
    )


def test_switcher_round_trips_on_every_page(page: object, site_url: str) -> None:
    pages = html_pages("en")
    assert "index.html" in pages
    for name in pages:
        page.goto(f"{site_url}/en/{name}")
        page.click(".svclab-language-switch a[hreflang='zh-CN']")
        assert page.url == f"{site_url}/zh_CN/{name}"
        assert page.locator("html").get_attribute("lang") == "zh-CN"
        page.click(".svclab-language-switch a[hreflang='en']")
        assert page.url == f"{site_url}/en/{name}"
    assert page.outside == []


def test_root_page_sends_chinese_readers_to_chinese(browser: object, site_url: str) -> None:
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.goto(f"{site_url}/index.html")
    page.wait_for_url(f"{site_url}/zh_CN/index.html")
    context.close()


@pytest.mark.parametrize(
    ("lang", "term"),
    [
        ("zh_CN", "缓存"),
        ("zh_CN", "轮询"),
        ("zh_CN", "代理模式"),
        ("en", "round-robin"),
        ("en", "nftables"),
    ],
)
def test_search_finds_pages(page: object, site_url: str, lang: str, term: str) -> None:
    page.goto(f"{site_url}/{lang}/search.html?q={quote(term)}")
    results = page.locator("#search-results ul.search li")
    results.first.wait_for(timeout=15000)
    assert results.count() >= 1
    assert page.outside == []


def test_site_works_from_file_urls_without_the_network(page: object) -> None:
    require((SITE / "en" / "index.html").exists(), "the site is not built: run `nox -s docs` first")
    page.goto((SITE / "zh_CN" / "part1" / "what-is-a-service.html").as_uri())
    assert "Service" in page.title()
    page.click(".svclab-language-switch a[hreflang='en']")
    assert page.url.endswith("/en/part1/what-is-a-service.html")
    assert page.outside == []
