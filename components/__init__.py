"""Reusable ComponentResources: the Kubernetes runner (OidcLoginJob) and its pure manifests.

The Pulumi components are imported on first use (PEP 562), so `import components` and the
manifest functions stay cheap for tools that only render YAML.
"""

from .runner_manifests import RunnerNames, manifests_to_yaml, render_manifests, runner_names

# Public name -> submodule that defines it; loaded on first attribute access.
_LAZY = {
    "OidcLoginJob": ".runner",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["OidcLoginJob", "RunnerNames", "manifests_to_yaml", "render_manifests", "runner_names"]
