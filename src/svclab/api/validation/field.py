"""Field errors worded as upstream's (``k8s.io/apimachinery/pkg/util/validation/field``)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldError:
    """One field error; ``str()`` gives upstream's ``field: Type: value: detail`` text."""

    kind: str  # "Required value", "Invalid value", "Duplicate value", "Unsupported value", ...
    field: str
    value: Any = None
    detail: str = ""
    show_value: bool = True

    @property
    def body(self) -> str:
        """The message without the field path (``ErrorBody``)."""
        text = self.kind
        if self.show_value:
            text += f": {_render(self.value)}"
        return f"{text}: {self.detail}" if self.detail else text

    def __str__(self) -> str:
        return f"{self.field}: {self.body}"


def _render(value: Any) -> str:
    """Bad values as upstream prints them: numbers bare, strings quoted, the rest as JSON.

    >>> print(_render("x" * 1_000_000)[-30:])
    xxxxx..." (1000000 characters)
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        if len(value) > MAX_SHOWN:
            return json.dumps(value[:MAX_SHOWN])[:-1] + f'..." ({len(value)} characters)'
        return json.dumps(value)
    text = json.dumps(value, separators=(",", ":"))
    return text if len(text) <= MAX_SHOWN else f"{text[:MAX_SHOWN]}... ({len(text)} characters)"


MAX_SHOWN = 256
"""Longest value shown in a message; a longer one is cut and its length given, so that a 10 MB
name cannot make a 10 MB error line."""


def required(field: str, detail: str = "") -> FieldError:
    """``field.Required``."""
    return FieldError("Required value", field, detail=detail, show_value=False)


def forbidden(field: str, detail: str) -> FieldError:
    """``field.Forbidden``."""
    return FieldError("Forbidden", field, detail=detail, show_value=False)


def invalid(field: str, value: Any, detail: str) -> FieldError:
    """``field.Invalid``."""
    return FieldError("Invalid value", field, value, detail)


def duplicate(field: str, value: Any) -> FieldError:
    """``field.Duplicate``."""
    return FieldError("Duplicate value", field, value)


def not_supported(field: str, value: Any, supported: Iterable[str]) -> FieldError:
    """``field.NotSupported``: lists the accepted values, quoted, in the given order."""
    return FieldError(
        "Unsupported value",
        field,
        value,
        "supported values: " + ", ".join(json.dumps(s) for s in supported),
    )


def too_many(field: str, count: int, maximum: int) -> FieldError:
    """``field.TooMany``."""
    return FieldError("Too many", field, count, f"must have at most {maximum} items")
