"""Captions are true of their figures: the sentences that depend on data are computed from
it, and the page shows what the same run computes."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from svclab import experiments
from svclab.experiments.captions import final_failures, line_ends

SITE = Path(__file__).resolve().parents[2] / "_build" / "html"
COMPARE = (
    "dns-rr/honour-ttl/new-conn",
    "clusterip/honour-ttl/new-conn",
    "clusterip/ignore-ttl/new-conn",
    "clusterip/resolve-once/new-conn",
)


@pytest.fixture(scope="module")
def compare():
    return experiments.run("rolling-update", ttl=30, groups=COMPARE)


def test_line_ends_says_what_the_data_says(compare) -> None:
    ends = final_failures(compare)
    vip = {n for label, n in ends.items() if label.startswith("clusterip/")}
    text = line_ends(compare, "en")
    assert ("end together" in text) == (len(vip) == 1)
    for n in ends.values():
        assert str(n) in text


def test_a_group_gives_the_same_numbers_whatever_runs_beside_it(compare) -> None:
    alone = experiments.run("rolling-update", ttl=30, groups=COMPARE[:1])
    assert alone.rows[0] == compare.rows[0]


def test_titles_say_what_the_figure_compares(compare) -> None:
    only_dns = experiments.run("rolling-update", ttl=30, groups=COMPARE[:1])
    assert "ClusterIP" in compare.figure("en")._suptitle.get_text()
    assert "ClusterIP" not in only_dns.figure("en")._suptitle.get_text()


@pytest.mark.usefixtures("built_site")
@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_the_built_caption_is_the_computed_one(compare, lang: str) -> None:
    page = SITE / lang / "part1" / "why-not-dns-round-robin.html"
    captions = [
        html.unescape(re.sub(r"<[^>]+>", "", c))
        for c in re.findall(r"<figcaption>(.*?)</figcaption>", page.read_text(), re.S)
    ]
    assert any(line_ends(compare, lang) in re.sub(r"\s+", " ", c) for c in captions)


@pytest.mark.parametrize("name", ["rolling-update", "dns-load", "ndots"])
@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_every_part1_figure_is_titled(name: str, lang: str) -> None:
    options = {"rolling-update": {"duration": 30.0, "clients": 5}}.get(name, {})
    fig = experiments.run(name, **options).figure(lang)
    assert fig._suptitle is not None and fig._suptitle.get_text()
