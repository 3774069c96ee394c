"""The English and Chinese trees hold the same pages, labels and code, and the Chinese reads right."""

from __future__ import annotations

import csv
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
EN, ZH = DOCS / "en", DOCS / "zh_CN"

LABEL = re.compile(r"^\((?P<label>[A-Za-z0-9_-]+)\)=\s*$")
HEADING = re.compile(r"^#{1,6} \S")
FENCE = re.compile(r"^(?P<fence>`{3,}|:{3,})(?P<info>.*)$")
CJK = r"\u4e00-\u9fff"


def pages(tree: Path) -> list[str]:
    return sorted(p.relative_to(tree).as_posix() for p in tree.rglob("*.md"))


def blocks(text: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Split a MyST page into prose lines (fences removed) and fenced blocks (info, body)."""
    prose: list[str] = []
    fenced: list[tuple[str, str]] = []
    lines = iter(text.splitlines())
    for line in lines:
        match = FENCE.match(line)
        if not match:
            prose.append(line)
            continue
        fence, body = match.group("fence"), []
        for inner in lines:
            if inner.startswith(fence) and inner.strip() == fence:
                break
            body.append(inner)
        fenced.append((match.group("info").strip(), "\n".join(body)))
    return prose, fenced


def headings_and_labels(text: str) -> tuple[list[str], list[str]]:
    """Labels in order, and the headings that have no label right above them."""
    prose, _ = blocks(text)
    labels, unlabelled, previous = [], [], ""
    for line in prose:
        if HEADING.match(line):
            match = LABEL.match(previous)
            if match:
                labels.append(match.group("label"))
            else:
                unlabelled.append(line)
        if line.strip():
            previous = line
    return labels, unlabelled


def code_cells(text: str) -> list[str]:
    """The code cells of a page (the page's language reaches them through the build, so they
    are byte-identical in both trees)."""
    _, fenced = blocks(text)
    return [body for info, body in fenced if info.startswith("{code-cell}")]


def chinese_prose(text: str) -> list[str]:
    """Chinese prose lines with code, links' targets, roles, labels and front matter removed."""
    if text.startswith("---"):
        text = text.split("---", 2)[2]
    prose, fenced = blocks(text)
    prose += [
        body
        for info, body in fenced
        if info.startswith(("{toggle}", "{note}", "{tip}", "{admonition}", "{warning}"))
    ]
    cleaned = []
    for line in prose:
        if LABEL.match(line) or line.startswith((":", "#(")):
            continue
        line = re.sub(r"`[^`]*`", "`x`", line)
        line = re.sub(r"\]\([^)]*\)", "]", line)
        line = re.sub(r"<https?://[^>]*>", "<x>", line)
        line = re.sub(r"\{[a-z:-]+\}", "", line)
        cleaned.append(line)
    return cleaned


def test_same_pages_in_both_languages() -> None:
    assert pages(EN), "no English pages"
    assert pages(EN) == pages(ZH)


@pytest.mark.parametrize("page", pages(EN))
def test_every_heading_has_a_label_and_the_labels_match(page: str) -> None:
    en_labels, en_unlabelled = headings_and_labels((EN / page).read_text())
    zh_labels, zh_unlabelled = headings_and_labels((ZH / page).read_text())
    assert en_unlabelled == [], f"headings without a (label)= line in en/{page}"
    assert zh_unlabelled == [], f"headings without a (label)= line in zh_CN/{page}"
    assert en_labels == zh_labels


@pytest.mark.parametrize("page", pages(EN))
def test_code_cells_are_identical(page: str) -> None:
    assert code_cells((EN / page).read_text()) == code_cells((ZH / page).read_text())


def glossary() -> list[dict[str, str]]:
    with (DOCS / "glossary.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_glossary_is_well_formed() -> None:
    rows = glossary()
    assert len(rows) >= 20
    for row in rows:
        assert row["en"] and row["zh_CN"] and row["note"], row


@pytest.mark.parametrize("page", pages(ZH))
def test_chinese_pages_use_the_glossary_terms(page: str) -> None:
    prose = "\n".join(chinese_prose((ZH / page).read_text()))
    for row in glossary():
        for avoided in filter(None, row["avoid"].split("|")):
            assert avoided not in prose, (
                f"zh_CN/{page}: write {row['zh_CN']!r}, not {avoided!r} ({row['note']})"
            )


@pytest.mark.parametrize("page", pages(ZH))
def test_chinese_typography(page: str) -> None:
    problems = []
    for number, line in enumerate(chinese_prose((ZH / page).read_text()), 1):
        if re.search(f"[{CJK}][A-Za-z0-9`]|[A-Za-z0-9`][{CJK}]", line):
            problems.append(f"{number}: no space between Chinese and Latin: {line.strip()}")
        if re.search(f"[{CJK}][,;:?!()]|[,;:?!(][{CJK}]|[{CJK}]\\.(\\s|$)", line):
            problems.append(f"{number}: half-width punctuation in Chinese: {line.strip()}")
    assert problems == []


def test_typography_check_catches_mistakes() -> None:
    """The checker itself must fail on the mistakes it is meant to catch."""
    bad = "使用Service公开,端口80。"
    assert re.search(f"[{CJK}][A-Za-z0-9`]", bad)
    assert re.search(f"[{CJK}][,;:?!()]", bad)


def test_no_notebook_outputs_or_build_folders_are_tracked() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert not [f for f in tracked if f.endswith(".ipynb") or f.startswith("_build/")]
