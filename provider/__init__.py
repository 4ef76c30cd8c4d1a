"""OIDC trust for Pulumi Cloud: the dynamic resources, the policy model and the REST client.

Imports are lazy so that the policy model and the client (used by the emulator and the CLI)
load without the Pulumi SDK.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "OidcIssuer": "pulumi_oidc_trust.provider.issuer",
    "OidcIssuerPolicy": "pulumi_oidc_trust.provider.issuer_policy",
    "OidcIssuerWithPolicies": "pulumi_oidc_trust.provider.issuer_with_policies",
    "Policy": "pulumi_oidc_trust.provider.policy",
    "PulumiCloudClient": "pulumi_oidc_trust.provider.client",
    "PulumiCloudError": "pulumi_oidc_trust.provider.client",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'pulumi_oidc_trust.provider' has no attribute {name!r}")
