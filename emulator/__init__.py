"""A local stand-in for Pulumi Cloud's OIDC endpoints, for tests, the demo and offline dry runs.

It speaks the REST contract of research/pulumi_cloud_oidc.md (issuers, auth policies, the token
exchange, ``GET /api/user``), verifies workload tokens for real and decides exchanges with the
project's one policy model (``provider.policy``).

    from pulumi_oidc_trust.emulator import serve
    with serve("an-admin-token") as running:
        running.base_url            # http://127.0.0.1:PORT
        running.test_issuer.mint({"sub": "ci", "aud": "urn:pulumi:org:acme"})

Command line: ``python -m pulumi_oidc_trust.emulator --port 0 --access-token T [--state FILE] ...``
(``python -m pulumi_oidc_trust.emulator --help``).
"""

from .app import ROUTES, Emulator
from .faults import FaultConfig, ScriptEntry
from .server import RunningEmulator, serve
from .test_issuer import TestIssuer, new_rsa_key, public_jwk
from .tls_issuer import TlsIssuer

__all__ = [
    "ROUTES",
    "Emulator",
    "FaultConfig",
    "RunningEmulator",
    "ScriptEntry",
    "TestIssuer",
    "TlsIssuer",
    "new_rsa_key",
    "public_jwk",
    "serve",
]
