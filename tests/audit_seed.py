"""An organization whose trust was set up by hand, for the ``audit`` and ``import`` tests.

Written straight into the emulator's state (a state file before it starts, or the in-process
store), not through registration: registering the public issuers below would make the emulator
reach out to their hosts for a thumbprint, and ``lastUsed`` can only be set this way.

The mix: a GitHub issuer with an over-broad policy (organization-wide, admin), a Kubernetes
issuer with an uploaded JWKS and a tight policy, an issuer still holding the service's default
document, one shut with CLOSED, and a stale issuer (last used 200 days ago).
"""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from pulumi_oidc_trust.emulator import new_rsa_key
from pulumi_oidc_trust.emulator.store import empty_state, timestamp
from pulumi_oidc_trust.emulator.test_issuer import public_jwk
from pulumi_oidc_trust.provider.policy import SERVICE_DEFAULT_POLICIES, closed_policies
from pulumi_oidc_trust.provider.wire import audience_for

ORG = "acme"
GITHUB = "https://token.actions.githubusercontent.com"
EKS = "https://oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
GITLAB = "https://gitlab.com"
CIRCLECI = "https://oidc.circleci.com/org/9f8e7d6c-0000-4000-8000-000000000001"
GKE = "https://container.googleapis.com/v1/projects/acme-prod/locations/europe-west1/clusters/legacy"

GITHUB_BROAD = [
    {"decision": "allow", "tokenType": "organization", "authorizedPermissions": ["admin"],
     "rules": {"aud": audience_for(ORG), "sub": "repo:acme/*"}},
]
K8S_TIGHT = [
    {"decision": "allow", "tokenType": "team", "teamName": "platform", "authorizedPermissions": [],
     "rules": {"aud": audience_for(ORG), "sub": "system:serviceaccount:pulumi:deploy"}},
]
GKE_TIGHT = [
    {"decision": "allow", "tokenType": "team", "teamName": "legacy", "authorizedPermissions": [],
     "rules": {"aud": audience_for(ORG), "sub": "system:serviceaccount:ops:pulumi"}},
]

_JWKS = {"keys": [public_jwk(new_rsa_key(), "cluster-key-1")]}


def issuers(now: datetime | None = None) -> list[dict[str, Any]]:
    """(name, url, policies, extra issuer fields) of the seeded organization, in order."""
    now = now or datetime.now(timezone.utc)
    return [
        {"name": "github-actions", "url": GITHUB, "policies": GITHUB_BROAD, "version": 3,
         "maxExpiration": 3600, "lastUsed": timestamp(now - timedelta(days=2))},
        {"name": "prod-cluster", "url": EKS, "policies": K8S_TIGHT, "version": 2, "jwks": copy.deepcopy(_JWKS)},
        {"name": "gitlab (new)", "url": GITLAB, "policies": list(SERVICE_DEFAULT_POLICIES), "version": 1},
        {"name": "circleci retired", "url": CIRCLECI, "policies": closed_policies(ORG), "version": 4},
        {"name": "legacy-gke", "url": GKE, "policies": GKE_TIGHT, "version": 2,
         "lastUsed": timestamp(now - timedelta(days=200))},
    ]


def seed(state: dict[str, Any], now: datetime | None = None, org: str = ORG) -> dict[str, str]:
    """Add the organization to an emulator state (``store.State.data`` or a state file's JSON).
    Returns issuer name -> issuer id."""
    made = {}
    if org not in state["organizations"]:
        state["organizations"].append(org)
    for number, spec in enumerate(issuers(now), 1):
        issuer_id = f"00000000-0000-4000-8000-{number:012d}"
        policy_id = f"00000000-0000-4000-9000-{number:012d}"
        created = "2025-03-01 09:00:00.000"
        state["issuers"][issuer_id] = {
            "org": org, "id": issuer_id, "name": spec["name"], "url": spec["url"], "issuer": spec["url"],
            "thumbprints": [f"{number:02d}" * 32] if "jwks" not in spec else [],
            "jwks": spec.get("jwks"), "maxExpiration": spec.get("maxExpiration"),
            "created": created, "modified": created, "lastUsed": spec.get("lastUsed"), "policyId": policy_id,
        }
        state["policies"][policy_id] = {
            "org": org, "id": policy_id, "issuerId": issuer_id, "version": spec["version"],
            "created": created, "modified": created, "policies": copy.deepcopy(spec["policies"]),
        }
        made[spec["name"]] = issuer_id
    return made


def write_state_file(path: Path, now: datetime | None = None) -> dict[str, str]:
    """A state file holding only the seeded organization (start the emulator with ``--state path``)."""
    state = empty_state()
    made = seed(state, now)
    path.write_text(json.dumps(state, indent=1))
    return made


def seed_inproc(handle: Any, now: datetime | None = None) -> dict[str, str]:
    """Seed an in-process emulator (``InProcessEmulator``) through its store."""
    with handle.app.store.transaction() as state:
        return seed(state.data, now)
