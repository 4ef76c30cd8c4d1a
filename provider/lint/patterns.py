"""What a pattern's wildcards admit, as the rules need to know it (no matching here: that is
``policy.match``'s)."""

from __future__ import annotations

from ..policy import WIDE_WILDCARDS, WILDCARDS

# WILDCARDS (``*``, ``?``, ``.``) is policy.py's: the one definition of Pulumi's wildcard characters.


def is_exact(pattern: str) -> bool:
    """True when the pattern has no wildcard character (``*``, ``?`` or ``.``): an exact pin."""
    return not any(c in WILDCARDS for c in pattern)


WIDE = WIDE_WILDCARDS


def wide(pattern: str) -> bool:
    return any(c in WIDE for c in pattern)


def opens(pattern: str) -> bool:
    """The pattern admits names its author did not write: it has a ``*`` or ``?``, or it starts
    with a wildcard (``....`` is any four characters). A ``.`` inside a name (``site.io``) is only
    a look-alike, reported as such (OIDC012)."""
    return wide(pattern) or (pattern[:1] != "" and pattern[0] in WILDCARDS)


def unanchored(pattern: str) -> bool:
    """A ``*`` comes before the pattern's first literal character, so that literal part may sit
    anywhere in the value (``*-*``, ``*:*``, ``.*acme``): the rule pins no part of who the
    workload is, and values nobody wrote down fit. (A pattern with no literal at all is refused
    by ``policy.parse_policy``, as by the service.)"""
    for c in pattern:
        if c == "*":
            return True
        if c not in WILDCARDS:
            return False
    return False


def exact_id(pattern: str) -> bool:
    return is_exact(pattern) and pattern.isdigit()
