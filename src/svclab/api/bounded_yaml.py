"""YAML (and JSON) documents read within limits, so hostile input is one clear error.

PyYAML alone turns a list nested 10,000 deep into a RecursionError, an integer of 5,000 digits
into a ValueError, and a "billion laughs" alias bomb into gigabytes once the aliases are
expanded. Here each of those is a `ManifestError` naming the line, raised as soon as the
offending node is read; documents come one at a time, so the caller can check each object
before the next one is even parsed.

>>> [doc["a"] for doc in documents("a: 1\\n---\\na: 2\\n", "x.yaml")]
[1, 2]
>>> list(documents("a: " + "[" * 200 + "]" * 200, "deep.yaml"))
Traceback (most recent call last):
...
svclab.errors.ManifestError: deep.yaml: line 1: nested more than 100 levels deep
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

from svclab.errors import ManifestError

MAX_FILE_BYTES = 32 * 2**20
"""Largest manifest file read (32 MiB: ten times the API server's 3 MiB request limit)."""

MAX_OBJECTS = 20_000
"""Most objects in one file (documents and ``List`` items together)."""

MAX_DEPTH = 100
"""Deepest nesting of lists and mappings (a Service is about 8 deep)."""

MAX_DIGITS = 20
"""Longest integer, in digits: every integer field of the API is at most 64 bits wide."""

ALIAS_GROWTH = 10
"""An alias may repeat nodes, but a document may not grow beyond ten times its written nodes
(plus `ALIAS_ALLOWANCE`) once its aliases are expanded (go-yaml refuses such documents too:
"document contains excessive aliasing")."""

ALIAS_ALLOWANCE = 10_000


class _BoundedLoader(yaml.SafeLoader):
    """A SafeLoader that counts depth while composing and checks sizes while constructing."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _Refused(
                    self.peek_event().start_mark, f"nested more than {MAX_DEPTH} levels deep"
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_document(self, node: Any) -> Any:
        written: set[int] = set()
        expanded = _expanded_size(node, {}, written)
        if expanded > ALIAS_GROWTH * len(written) + ALIAS_ALLOWANCE:
            raise _Refused(node.start_mark, "document contains excessive aliasing")
        return super().construct_document(node)

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError, TypeError) as exc:
            # e.g. a timestamp with month 13, or a mapping key that is a list
            raise _Refused(node.start_mark, f"cannot read this value: {exc}") from None


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    digits = sum(ch.isdigit() for ch in node.value)
    if digits > MAX_DIGITS:
        raise _Refused(node.start_mark, f"integer out of range ({digits} digits)")
    return loader.construct_yaml_int(node)


_BoundedLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)


class _Refused(Exception):
    def __init__(self, mark: Any, problem: str) -> None:
        super().__init__(problem)
        self.line = mark.line + 1 if mark else None
        self.problem = problem


def _expanded_size(node: Any, sizes: dict[int, int], written: set[int]) -> int:
    """How many nodes `node` stands for once every alias is copied out."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    written.add(key)
    size = 1
    if isinstance(node, yaml.SequenceNode):
        size += sum(_expanded_size(item, sizes, written) for item in node.value)
    elif isinstance(node, yaml.MappingNode):
        size += sum(
            _expanded_size(k, sizes, written) + _expanded_size(v, sizes, written)
            for k, v in node.value
        )
    sizes[key] = size
    return size


def documents(text: str, source: str) -> Iterator[Any]:
    """The documents of `text` one by one (``None`` for empty ones), within the limits."""
    loader = None
    try:
        loader = _BoundedLoader(text)  # checks the characters first
        while loader.check_data():
            yield loader.get_data()
    except _Refused as exc:
        where = f"line {exc.line}: " if exc.line else ""
        raise ManifestError(source, "", "", where + exc.problem) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ManifestError(source, "", "", f"{where}not valid YAML: {problem}") from None
    finally:
        if loader is not None:
            loader.dispose()
