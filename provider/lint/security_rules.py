"""Two lint rules from the security review, as pure functions over plain data.

They return ``Finding``s in the linter's shape with stable ids that are never renumbered:

* OIDC040 (error): a wildcard in a name field (``team_name``, ``user_login``, ``runner_id``) of
  an allow policy. The policy model matches those fields with the same wildcards as claims, so
  ``user_login: "john.doe"`` also admits ``john-doe`` and ``team_name: "plat*"`` every team whose
  name starts with ``plat``. ``Grant`` refuses such names; this catches policies written by hand.
  Deny policies may use wildcards there (a wider deny only refuses more).
* OIDC041 (warning): the Kubernetes runner's image is a tag without a digest. The Job pulls it
  ``IfNotPresent``, so whoever can push that tag (or a node that cached another image under it)
  decides what runs with the organization's Pulumi token. Pin ``image@sha256:<digest>``.

``lint_policies`` runs OIDC040; the runner component (and ``oidc-trust render``) runs OIDC041 on
its image. Both are in the one catalog (catalog.py).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from ..image_ref import has_digest
from ..policy import NAME_FIELDS, WILDCARDS, Policy, parse_policy
from .catalog import Finding



def name_wildcard_findings(policies: Sequence[Policy | Mapping[str, Any]]) -> list[Finding]:
    """OIDC040: one error per allow policy whose team/user/runner name holds a wildcard."""
    parsed = [p if isinstance(p, Policy) else parse_policy(p, f"policies[{i}]") for i, p in enumerate(policies)]
    findings = []
    for index, policy in enumerate(parsed):
        if policy.decision != "allow":
            continue
        for name_field in NAME_FIELDS:
            value = getattr(policy, name_field)
            if not isinstance(value, str):
                continue
            found = sorted({c for c in value if c in WILDCARDS})
            if not found:
                continue
            findings.append(
                Finding(
                    "OIDC040",
                    "error",
                    f"policy {index}: {name_field} {value!r} contains the wildcard "
                    f"{', '.join(repr(c) for c in found)}: names are matched like claims ('*' any "
                    "characters, '?' zero or one, '.' exactly one), so other teams or users match too.",
                    f"write the exact {name_field} without '*', '?' or '.'; one allow per team or user "
                    "(a name that itself has a dot cannot be granted exactly)",
                    policy=index,
                    claim=name_field,
                )
            )
    return findings


def mutable_image_findings(image: str, *, default: str | None = None) -> list[Finding]:
    """OIDC041: a warning when the runner image is not pinned by digest. None for ``default``,
    the image the project chose (the component's and render's callers pass it): a warning the user
    did not cause, on every preview and render, is noise; docs/runner.md says how to pin it."""
    if has_digest(image) or (default is not None and image == default):
        return []
    return [
        Finding(
            "OIDC041",
            "warning",
            f"runner image {image!r} is a tag without a digest and the Job pulls it IfNotPresent: a "
            "re-pushed tag, or another image cached under it on a node, runs with the Pulumi token.",
            f"pin the digest: image='{image.partition('@')[0]}@sha256:<digest>' "
            "(docker buildx imagetools inspect IMAGE shows it)",
            claim="image",
        )
    ]
