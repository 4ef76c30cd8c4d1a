"""The one duration parser: token lifetimes given as whole seconds or Go-style durations.

The Pulumi CLI takes ``--oidc-expiration`` in Go's duration syntax ("15m", "2h", "1h30m"); the
API takes whole seconds. Everything in this project that accepts a lifetime goes through
``parse_duration`` so the two spellings, the bounds and the error texts are the same everywhere.
"""

from __future__ import annotations

import re
from fractions import Fraction

from .wire import MAX_EXPIRATION

_UNIT_SECONDS = {"h": 3600, "m": 60, "s": 1}
# One Go duration term: a decimal number and a unit. Units finer than a second are refused
# (the API counts whole seconds), so "ms", "us" and "ns" are not listed.
_TERM = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(h|m|s)")
_EXAMPLES = "write whole seconds (3600) or a duration such as '15m', '2h' or '1h30m'"


def parse_duration(value: int | str, *, name: str) -> int:
    """Seconds for ``value``: an int, a digit string ("3600") or a Go duration ("1h30m", "90s").

    ``name`` is the parameter being read; it is named in the ``ValueError`` raised for anything
    else, for zero or negative lifetimes, for fractions of a second and for more than 25 h.
    """
    seconds = _to_seconds(value, name)
    if seconds <= 0:
        raise ValueError(f"{name}: {value!r} is not a positive lifetime; {_EXAMPLES}")
    if seconds > MAX_EXPIRATION:
        raise ValueError(
            f"{name}: {value!r} is {seconds} s, more than the 25 h ({MAX_EXPIRATION} s) Pulumi Cloud grants; "
            "ask for at most '25h' (short-lived tokens are the point: 1-2 h is typical)"
        )
    return seconds


def format_duration(seconds: int) -> str:
    """``5400`` -> ``"1h30m"``: the Go spelling of a whole number of seconds (for messages)."""
    if seconds <= 0:
        return "0s"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return "".join(f"{n}{u}" for n, u in ((hours, "h"), (minutes, "m"), (secs, "s")) if n)


def _to_seconds(value: int | str, name: str) -> int:
    # bool is an int subclass; True would otherwise read as one second.
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"{name}: expected seconds or a duration string, got {type(value).__name__}; {_EXAMPLES}")
    if isinstance(value, int):
        return value
    text = value.strip()
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    if text.startswith("-"):
        raise ValueError(f"{name}: {value!r} is not a positive lifetime; {_EXAMPLES}")
    terms = _parse_terms(text.lstrip("+"))
    if terms is None:
        raise ValueError(f"{name}: {value!r} is not a duration; {_EXAMPLES}")
    total = sum((Fraction(number) * _UNIT_SECONDS[unit] for number, unit in terms), Fraction(0))
    if total.denominator != 1:
        raise ValueError(f"{name}: {value!r} is not a whole number of seconds; {_EXAMPLES}")
    return int(total)


def _parse_terms(text: str) -> list[tuple[str, str]] | None:
    """Split "1h30m" into [("1", "h"), ("30", "m")]; None when the text is not only such terms."""
    terms: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        m = _TERM.match(text, pos)
        if m is None:
            return None
        terms.append((m.group(1), m.group(2)))
        pos = m.end()
    return terms or None
