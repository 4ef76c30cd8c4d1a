"""pulumi_oidc_trust: OIDC trust for Pulumi Cloud as code.

The one installed package. Its subpackages come from the repository's top-level folders
(mapped in pyproject.toml): ``pulumi_oidc_trust.provider`` (the dynamic resources, the policy
model, the REST client, the linter), ``pulumi_oidc_trust.components`` (the Kubernetes runner,
the trust bundle, the presets), ``pulumi_oidc_trust.emulator`` and ``pulumi_oidc_trust.cli``.

The public API is re-exported here:

    from pulumi_oidc_trust import OidcTrust, Grant, github_actions

Names load on first use (PEP 562), so importing the package for the policy model or the
emulator does not pull in the Pulumi SDK.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_PROVIDER = ("OidcIssuer", "OidcIssuerPolicy", "OidcIssuerWithPolicies", "Policy", "PulumiCloudClient", "PulumiCloudError")
_COMPONENTS = (
    "OidcLoginJob", "OidcLoginJobArgs", "OidcTrust", "Grant", "PresetError", "GITHUB_ISSUER_URL",
    "GITLAB_ISSUER_URL", "github_actions", "gitlab", "kubernetes", "circleci", "login_job", "runner_spec",
    "service_account_subject", "eks_issuer_url", "gke_issuer_url", "aks_issuer_url", "circleci_issuer_url",
    "render_manifests", "manifests_to_yaml", "GitSource", "RunnerArgs",
)

# Public name -> the subpackage that exports it.
_EXPORTS = {**{n: ".provider" for n in _PROVIDER}, **{n: ".components" for n in _COMPONENTS}}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
