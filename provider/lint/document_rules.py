"""Whole-document rules: the policy count, and allows that overlap other policies."""

from __future__ import annotations

from typing import Sequence

from ..policy import MAX_POLICIES, Policy, match, parse_claim_path
from .catalog import Finding
from .patterns import is_exact

NEAR_LIMIT = MAX_POLICIES - 4
"""OIDC026 fires from this many policies on (the limit is a hard apply-time failure)."""


def policy_count(policies: Sequence[Policy]) -> list[Finding]:
    """OIDC026: close to the per-issuer limit, the next policy added fails at apply time."""
    n = len(policies)
    if n < NEAR_LIMIT:
        return []
    return [
        Finding(
            "OIDC026",
            "warning",
            f"the document holds {n} policies; Pulumi Cloud accepts at most {MAX_POLICIES} per issuer.",
            "merge policies that grant the same token (one sub pattern per workload), or split the "
            "workloads across a second issuer",
        )
    ]


def covers(broad: str, narrow: str) -> bool:
    """True only when every value ``narrow`` matches is provably matched by ``broad``.

    Conservative (a False may be wrong, a True never is): equal patterns; an exact ``narrow``
    that ``broad`` matches; or ``broad`` = LITERAL + ``*`` and ``narrow`` starts with LITERAL.
    """
    if broad == narrow:
        return True
    if is_exact(narrow):
        return match(broad, narrow)
    if broad.endswith("*") and is_exact(broad[:-1]):
        return narrow.startswith(broad[:-1])
    return False


def _policy_covers(broad: Policy, narrow: Policy) -> bool:
    """Every request and token ``narrow`` matches is matched by ``broad`` too (conservatively)."""
    if broad.token_type != narrow.token_type:
        return False
    if broad.name_pattern is not None and not covers(broad.name_pattern, narrow.name_pattern or ""):
        return False
    narrow_rules = {parse_claim_path(k): p for k, p in narrow.rules.items()}
    for key, pattern in broad.rules.items():
        other = narrow_rules.get(parse_claim_path(key))
        if other is None or not covers(pattern, other):
            return False
    return True


def _same_grant(a: Policy, b: Policy) -> bool:
    return a.role_id == b.role_id and set(a.authorized_permissions) == set(b.authorized_permissions)


def _allow_makes_redundant(broad: Policy, j: int, narrow: Policy, i: int) -> bool:
    """Allow ``broad`` (index j) covers allow ``narrow`` (index i): is ``narrow`` pointless?"""
    if "admin" in narrow.authorized_permissions and "admin" not in broad.authorized_permissions:
        return False  # admin requests skip ``broad`` (policy._fit) and reach ``narrow``
    if _policy_covers(narrow, broad) and j > i:
        return False  # identical policies: reported once, on the later one
    # The same grant makes ``narrow`` redundant wherever it stands; a different grant only
    # when ``broad`` comes first (the first matching allow decides).
    return _same_grant(broad, narrow) or j < i


def overlaps(policies: Sequence[Policy]) -> list[Finding]:
    """OIDC013: allows that can never decide (shadowed by a deny) or that a broader allow makes
    redundant. Any matching deny wins and the first matching allow decides (policy.py)."""
    out = []
    for i, narrow in enumerate(policies):
        if narrow.decision != "allow":
            continue
        for j, broad in enumerate(policies):
            if j == i or not _policy_covers(broad, narrow):
                continue
            if broad.decision == "deny":
                out.append(
                    Finding(
                        "OIDC013",
                        "error",
                        f"policy {i} (allow {narrow.token_type} token) can never apply: deny policy {j} "
                        "matches every token it matches, and a matching deny always wins.",
                        f"narrow policy {j} (add a rule that excludes policy {i}'s workloads) or remove policy {i}",
                        i,
                    )
                )
                break
            if broad.decision == "allow" and _allow_makes_redundant(broad, j, narrow, i):
                if _policy_covers(narrow, broad):
                    relation = "is the same policy"
                elif _same_grant(broad, narrow):
                    relation = "grants the same token to everything it matches, and admits more besides"
                else:
                    relation = "comes first and matches everything it matches, so its different grant never applies"
                out.append(
                    Finding(
                        "OIDC013",
                        "error",
                        f"policy {i} (allow {narrow.token_type} token) is redundant: allow policy {j} {relation}.",
                        f"remove policy {i}, or narrow policy {j} to the workloads it was meant for",
                        i,
                    )
                )
                break
    return out
