"""What a pattern's wildcards admit, as the rules need to know it (no matching here: that is
``policy.match``'s)."""

from __future__ import annotations

from ..policy import WILDCARDS


def is_exact(pattern: str) -> bool:
    """True when the pattern has no wildcard character (``*``, ``?`` or ``.``): an exact pin."""
    return not any(c in WILDCARDS for c in pattern)


WIDE = "*?"
"""The wildcards that change the length of what matches (``.`` stands for exactly one character)."""


def wide(pattern: str) -> bool:
    return any(c in WIDE for c in pattern)


def exact_id(pattern: str) -> bool:
    return is_exact(pattern) and pattern.isdigit()


def literal(c: str) -> bool:
    return c not in WILDCARDS
