"""Label and field selectors with the syntax and meaning of k8s.io/apimachinery ``labels.Parse``
and ``fields.ParseSelector``.

>>> match = parse_label_selector("app=web,tier notin (db),!canary")
>>> match({"app": "web", "tier": "front"}), match({"app": "web", "canary": "1"})
(True, False)
>>> parse_label_selector("version>2")({"version": "3"})
True
>>> terms = parse_field_selector(r"metadata.name=web,spec.nodeName!=node-a")
>>> [(t.field, t.op, t.value) for t in terms]
[('metadata.name', '=', 'web'), ('spec.nodeName', '!=', 'node-a')]
>>> parse_label_selector("app in (web")
Traceback (most recent call last):
...
svclab.sandbox.status.ApiError: unable to parse requirement: 'app in (web'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from svclab.sandbox.status import ApiError, bad_request

LabelMatcher = Callable[[Mapping[str, str]], bool]

_KEY = r"(?:[a-z0-9A-Z.-]+/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?"
_VALUE = r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_EXISTS = re.compile(rf"\s*(!?)\s*({_KEY})\s*")
_EQUALITY = re.compile(rf"\s*({_KEY})\s*(==|=|!=)\s*({_VALUE})\s*")
_SET = re.compile(rf"\s*({_KEY})\s+(in|notin)\s*\(\s*((?:{_VALUE}\s*,\s*)*{_VALUE})\s*\)\s*")
_COMPARE = re.compile(rf"\s*({_KEY})\s*(<|>)\s*(-?[0-9]+)\s*")


def _split_requirements(text: str) -> list[str]:
    """Split on commas that are not inside ``( … )``."""
    parts, depth, current = [], 0, []
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _requirement(text: str) -> LabelMatcher:
    if m := _EXISTS.fullmatch(text):
        negate, key = m.group(1) == "!", m.group(2)
        return lambda labels: (key in labels) != negate
    if m := _EQUALITY.fullmatch(text):
        key, op, value = m.groups()
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if m := _SET.fullmatch(text):
        key, op, values_text = m.groups()
        values = {v.strip() for v in values_text.split(",")}
        if op == "notin":
            return lambda labels: labels.get(key) not in values
        return lambda labels: key in labels and labels[key] in values
    if m := _COMPARE.fullmatch(text):
        key, op, number = m.group(1), m.group(2), int(m.group(3))
        return lambda labels: _compare(labels.get(key), op, number)
    raise bad_request(f"unable to parse requirement: {text.strip()!r}")


def _compare(value: str | None, op: str, number: int) -> bool:
    try:
        actual = int(value) if value is not None else None
    except ValueError:
        return False
    return actual is not None and (actual > number if op == ">" else actual < number)


def parse_label_selector(text: str) -> LabelMatcher:
    """A predicate over a label mapping; an empty selector matches everything.

    >>> parse_label_selector("")({"any": "thing"})
    True
    """
    if not text.strip():
        return lambda labels: True
    matchers = [_requirement(part) for part in _split_requirements(text)]
    return lambda labels: all(m(labels) for m in matchers)


@dataclass(frozen=True)
class FieldTerm:
    """One ``field=value`` or ``field!=value`` term of a field selector."""

    field: str
    op: str
    value: str

    def matches(self, actual: str) -> bool:
        """Whether an object's value for `field` satisfies the term."""
        return (actual == self.value) == (self.op == "=")


def _split_escaped(text: str, separator: str) -> list[str]:
    """Split on `separator` unless escaped with a backslash (fields.ParseSelector's escaping)."""
    parts, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append("\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


_UNESCAPE = re.compile(r"\\(.)")


def parse_field_selector(text: str) -> list[FieldTerm]:
    """Terms of a field selector; ``==`` is read as ``=``.

    >>> parse_field_selector(r"metadata.name=a\\,b")
    [FieldTerm(field='metadata.name', op='=', value='a,b')]
    """
    terms = []
    for part in _split_escaped(text, ","):
        if not part.strip():
            continue
        m = re.fullmatch(r"\s*([^=!\s]+)\s*(!=|==|=)(.*)", part)
        if not m:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        field, op, value = m.groups()
        terms.append(FieldTerm(field, "!=" if op == "!=" else "=", _UNESCAPE.sub(r"\1", value)))
    return terms


def field_selector_error(field: str) -> ApiError:
    """400 for a field the resource cannot be selected by (core/v1 conversion funcs' wording)."""
    return bad_request(f"field label not supported: {field}")
