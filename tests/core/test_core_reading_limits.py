"""The manifest reader's limits: bad or huge input is one clean line, never a traceback.

The limits are listed in the CLI reference ("Limits and refusals"); each is tested here, and a
property test feeds the reader junk and mutated valid manifests.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from svclab.api import bounded_yaml as manifests
from svclab.api.reading import read_state
from svclab.errors import ManifestError

VALID = (
    Path(__file__).resolve().parents[1] / "data" / "proxy" / "iptables" / "overall.yaml"
).read_text()


def svclab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "svclab", *args], capture_output=True, text=True, timeout=120
    )


def refused(tmp_path: Path, text: str | bytes) -> str:
    path = tmp_path / "x.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ManifestError) as caught:
        read_state([path])
    return str(caught.value).removeprefix(f"{path}: ")


def test_nesting_10000_deep(tmp_path: Path) -> None:
    assert refused(tmp_path, "a: " + "[" * 10_000 + "]" * 10_000) == (
        f"line 1: nested more than {manifests.MAX_DEPTH} levels deep"
    )
    assert refused(tmp_path, "{" * 10_000 + "}" * 10_000).startswith("line 1: nested more than")


def test_integer_of_5000_digits(tmp_path: Path) -> None:
    text = (
        "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{port: 1"
        + "0" * 5000
        + "}]}\n"
    )
    assert refused(tmp_path, text) == "line 4: integer out of range (5001 digits)"


def test_alias_bomb(tmp_path: Path) -> None:
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i, name in enumerate("bcdefghij"):
        previous = "abcdefghij"[i]
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    assert refused(tmp_path, "\n".join(lines) + "\n").endswith(
        "document contains excessive aliasing"
    )


def test_file_size(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    with path.open("wb") as out:
        out.truncate(manifests.MAX_FILE_BYTES + 1)
    with pytest.raises(ManifestError) as caught:
        read_state([path])
    assert str(caught.value) == (
        f"{path}: larger than {manifests.MAX_FILE_BYTES // 2**20} MiB, the most svclab reads"
    )


def test_objects_per_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the limit lowered: 20,000 objects take about 25 s to read on a loaded CI machine."""
    monkeypatch.setattr(manifests, "MAX_OBJECTS", 100)
    doc = "apiVersion: v1\nkind: Namespace\nmetadata: {{name: n{}}}\n---\n"
    message = refused(tmp_path, "".join(doc.format(i) for i in range(manifests.MAX_OBJECTS + 1)))
    assert message == f"more than {manifests.MAX_OBJECTS} objects in one file"


def test_objects_are_checked_as_they_are_read(tmp_path: Path) -> None:
    """The first bad Service is refused before the rest of the file is even parsed."""
    bad = "apiVersion: v1\nkind: Service\nmetadata: {name: Bad_Name}\nspec: {ports: [{port: 80}]}\n"
    text = bad + "---\n" + "]]] not yaml [[[\n"
    assert refused(tmp_path, text).startswith("Service default/Bad_Name: metadata.name:")


@pytest.mark.parametrize(
    "text",
    [
        b"\x00\x01\x02binary",
        b"\xff\xfe bad utf-8",
        b"!!python/object:os.system ls",
        b"- - - [",
        b"123",
    ],
    ids=["binary", "utf8", "python-tag", "broken", "scalar"],
)
def test_not_manifests_are_one_line_exit_2(tmp_path: Path, text: bytes) -> None:
    path = tmp_path / "x.yaml"
    path.write_bytes(text)
    result = svclab("render", "iptables", "-f", str(path))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"svclab: {path}:")


def test_deep_nesting_through_the_cli(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 10_000 + "]" * 10_000)
    result = svclab("envvars", "-f", str(path))
    assert result.returncode == 2
    assert result.stderr == (
        f"svclab: {path}: line 1: nested more than {manifests.MAX_DEPTH} levels deep\n"
    )


def _only_clean_errors(text: str, tmp_path: Path) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        read_state([path])
    except ManifestError as exc:
        assert "\n" not in str(exc)
        assert str(exc).startswith(str(path))


FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=400))
def test_junk_gives_only_clean_errors(tmp_path: Path, junk: str) -> None:
    _only_clean_errors(junk, tmp_path)


@FUZZ
@given(
    st.lists(
        st.tuples(
            st.integers(0, len(VALID)),
            st.integers(0, 8),
            st.sampled_from(
                [
                    "",
                    "-",
                    ":",
                    "[",
                    "]",
                    "{",
                    "}",
                    "&a",
                    "*a",
                    "\n",
                    "  ",
                    "999999",
                    "'",
                    "0x",
                    "null",
                    "- ",
                    "!!binary",
                    "1e400",
                    "-1",
                    "\t",
                    "...",
                    "---\n",
                    "?",
                ]
            ),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_mutated_manifests_give_only_clean_errors(
    tmp_path: Path, edits: list[tuple[int, int, str]]
) -> None:
    text = VALID
    for at, cut, insert in edits:
        at = min(at, len(text))
        text = text[:at] + insert + text[at + cut :]
    _only_clean_errors(text, tmp_path)
