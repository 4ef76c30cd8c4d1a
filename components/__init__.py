"""Reusable ComponentResources: the Kubernetes runner (OidcLoginJob) and its pure manifests.

The Pulumi components are imported on first use (PEP 562), so `import components` and the
manifest functions stay cheap for tools that only render YAML.
"""

from .runner_args import RunnerArgs
from .runner_manifests import RunnerNames, manifests_to_yaml, render_manifests, runner_names

# Public name -> submodule that defines it; loaded on first attribute access.
_LAZY = {
    "OidcLoginJob": ".runner",
    # The trust bundle and its presets (components/trust.py, components/presets.py).
    "OidcTrust": ".trust",
    "OidcLoginJobArgs": ".trust",
    "runner_spec": ".runner_manifests",
    "GitSource": ".runner_source",
    **{
        name: ".presets"
        for name in (
            "Grant", "PresetError", "GITHUB_ISSUER_URL", "GITLAB_ISSUER_URL", "github_actions", "gitlab",
            "kubernetes", "circleci", "login_job", "service_account_subject", "eks_issuer_url",
            "gke_issuer_url", "aks_issuer_url", "circleci_issuer_url",
        )
    },
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["OidcLoginJob", "RunnerArgs", "RunnerNames", "manifests_to_yaml", "render_manifests", "runner_names"]
__all__ += [name for name in _LAZY if name not in __all__]
