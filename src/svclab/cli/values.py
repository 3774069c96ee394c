"""Argument types that check a flag's value, so a bad one is argparse's one-line error, exit 2.

>>> positive_seconds("0.5")
0.5
>>> positive_seconds("-1")
Traceback (most recent call last):
...
argparse.ArgumentTypeError: -1 is not a positive number
>>> port_number("70000")
Traceback (most recent call last):
...
argparse.ArgumentTypeError: 70000 is not a port (0-65535)
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def positive_seconds(text: str) -> float:
    """A finite number of seconds above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid float value: {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def positive_int(text: str) -> int:
    """A whole number of 1 or more."""
    return int_between(1, None, "a positive number")(text)


def int_between(low: int, high: int | None, what: str) -> Callable[[str], int]:
    """A parser of whole numbers from `low` to `high` (no upper bound if None)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{text} is not {what}")
        return value

    return parse


port_number = int_between(0, 65535, "a port (0-65535)")
"""A TCP/UDP port; 0 lets the kernel pick one."""
