"""The wildcard matcher runs in linear time and means what the regex translation it replaced meant.

Security review item 3: ``*`` compiled to the regex ``.*`` backtracks, so four ``*`` against an
811-character claim took seconds in the simulator and in the emulator's exchange.
"""

from __future__ import annotations

import re
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from pulumi_oidc_trust.provider import policy as m


def regex_match(pattern: str, value: str) -> bool:
    """The matcher as it was before (a regex translation): the semantic oracle for ordinary inputs."""
    parts = []
    for c in pattern:
        parts.append({"*": ".*", "?": ".?", ".": "."}.get(c) or re.escape(c))
    return re.fullmatch("".join(parts), value, re.DOTALL) is not None


# Ordinary inputs: claim-like characters, wildcards, and characters that are special to regexes.
PATTERN_CHARS = st.sampled_from(list("ab:/@-_*?.\n[](){}\\+^$|"))
VALUE_CHARS = st.sampled_from(list("ab:/@-_.\n*?[\\é"))


@settings(max_examples=1500, deadline=None)
@given(st.text(PATTERN_CHARS, max_size=12), st.text(VALUE_CHARS, max_size=16))
def test_same_answers_as_the_regex_translation(pattern, value):
    assert m.match(pattern, value) == regex_match(pattern, value)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=10), st.text(max_size=30))
def test_same_answers_on_any_unicode(pattern, value):
    assert m.match(pattern, value) == regex_match(pattern, value)


@settings(max_examples=300, deadline=None)
@given(st.text(st.sampled_from("ab"), max_size=12), st.text(st.sampled_from("ab"), min_size=1, max_size=12))
def test_star_prefix_and_suffix_around_a_literal(value, literal):
    # A typical rule shape, 'repo:acme/*:ref:*', reduced to its skeleton.
    pattern = f"*{literal}*"
    assert m.match(pattern, value) == (literal in value)


def _timed(pattern: str, value: str) -> tuple[bool, float]:
    started = time.perf_counter()
    result = m.match(pattern, value)
    return result, time.perf_counter() - started


def test_four_stars_against_a_long_claim_answer_at_once():
    # Before: about 9-15 s on this machine (catastrophic backtracking of '.*' four deep).
    result, elapsed = _timed("a*a*a*a*b", "a" * 811)
    assert result is False
    assert elapsed < 0.5, f"{elapsed:.2f}s"


def test_time_grows_with_the_product_of_lengths_not_faster():
    # Many stars against the largest value a token can carry (the 16 KB token cap).
    pattern = "a*" * 20 + "b"
    result, elapsed = _timed(pattern, "a" * 16 * 1024)
    assert result is False
    assert elapsed < 2.0, f"{elapsed:.2f}s"


def test_matching_still_finds_a_late_literal():
    value = "repo:acme/" + "x" * 5000 + ":ref:refs/heads/main"
    assert m.match("repo:acme/*:ref:*main", value)
    assert not m.match("repo:acme/*:ref:*mainx", value)
