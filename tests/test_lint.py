"""The linter: every rule fires on a case and stays quiet on a near miss; waivers; presets."""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from typing import Any, Callable

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from pulumi_oidc_trust.provider import lint
from pulumi_oidc_trust.provider.lint.security_rules import mutable_image_findings
from pulumi_oidc_trust.provider.lint import RULES, Finding, WaiverError, apply_waivers, errors, lint_issuer, lint_policies
from pulumi_oidc_trust.provider.policy import closed_policies, parse_policies

GH = "https://token.actions.githubusercontent.com"
GITLAB = "https://gitlab.com"
CIRCLE = "https://oidc.circleci.com/org/0e5a0c3d"
BITBUCKET = "https://api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc"
TFC = "https://app.terraform.io"
EKS = "https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
NOW_2026_04_01 = datetime(2026, 4, 1, tzinfo=timezone.utc)
GKE = "https://container.googleapis.com/v1/projects/acme/locations/us-central1/clusters/ci"
AKS = "https://eastus.oic.prod-aks.azure.com/00000000-0000-0000-0000-000000000000/11111111-1111-1111-1111-111111111111/"
AUD = "urn:pulumi:org:acme"


def allow(rules: dict[str, str], token_type: str = "organization", **fields: Any) -> dict[str, Any]:
    return {"decision": "allow", "tokenType": token_type, "rules": rules, **fields}


def deny(rules: dict[str, str], token_type: str = "organization", **fields: Any) -> dict[str, Any]:
    return {"decision": "deny", "tokenType": token_type, "rules": rules, **fields}


def gh(sub: str, **rules: str) -> dict[str, Any]:
    """A GitHub allow with aud and the owner id pinned (everything else from the caller)."""
    return allow({"aud": AUD, "repository_owner_id": "4242", "sub": sub, **rules})


def run(policies: list[dict[str, Any]], **kw: Any) -> list[Finding]:
    return lint_policies(parse_policies(policies), organization=kw.pop("organization", "acme"), **kw)


def ids(findings: list[Finding]) -> set[str]:
    return {f.id for f in findings}


def _jwk(bits: int = 2048, kid: str | None = "k1", **extra: Any) -> dict[str, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key().public_numbers()
    b64 = lambda n: base64.urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()
    jwk = {"kty": "RSA", "n": b64(key.n), "e": b64(key.e), "alg": "RS256", "use": "sig", **extra}
    if kid is not None:
        jwk["kid"] = kid
    return jwk


CC_SSH = '"oidc.circleci.com/ssh-rerun"'
CC_REF = '"oidc.circleci.com/vcs-ref"'
SSH_DENY = deny({"aud": AUD, CC_SSH: "true"})
"""The deny of CircleCI SSH reruns, for the organization-token allows below (OIDC030)."""

GOOD_JWK = _jwk()
SMALL_JWK = _jwk(1024, kid="small")

# (rule id, label, findings) — each must contain the rule id.
FIRES: list[tuple[str, str, Callable[[], list[Finding]]]] = [
    ("OIDC001", "aud only", lambda: run([allow({"aud": AUD})])),
    ("OIDC001", "aud and iss only", lambda: run([allow({"aud": AUD, "iss": "https://x.example"})])),
    ("OIDC002", "github reusable workflow without owner id", lambda: run([allow({"aud": AUD, "job_workflow_ref": "acme/deploy/.github/workflows/d.yml@refs/heads/main"})], issuer_url=GH)),
    ("OIDC002", "github owner id wildcarded", lambda: run([allow({"aud": AUD, "repository_owner_id": "42*", "repository_id": "7*", "ref": "refs/heads/main"})], issuer_url=GH)),
    ("OIDC002", "github owner id with a dot", lambda: run([allow({"aud": AUD, "repository_owner_id": "424.", "ref": "refs/heads/main"})], issuer_url=GH)),
    ("OIDC002", "github owner wildcard in sub", lambda: run([allow({"aud": AUD, "sub": "repo:acme*/infra:ref:refs/heads/main"})], issuer_url=GH)),
    ("OIDC002", "gitlab.com without namespace id", lambda: run([allow({"aud": AUD, "ref": "main", "ref_protected": "true"})], issuer_url=GITLAB)),
    ("OIDC002", "circleci project wildcard", lambda: run([allow({"aud": AUD, "sub": "org/0e5a0c3d/project/*/user/*"})], issuer_url=CIRCLE)),
    ("OIDC002", "bitbucket without repository", lambda: run([allow({"aud": AUD, "branchName": "main"})], issuer_url=BITBUCKET)),
    ("OIDC002", "bitbucket repository UUID wildcarded in sub", lambda: run([allow({"aud": AUD, "sub": "{*}:*"})], issuer_url=BITBUCKET)),
    ("OIDC002", "terraform without organization id", lambda: run([allow({"aud": AUD, "terraform_workspace_name": "prod", "terraform_run_phase": "apply"})], issuer_url=TFC)),
    ("OIDC002", "terraform organization wildcard in sub", lambda: run([allow({"aud": AUD, "sub": "organization:*:project:p:workspace:w:run_phase:apply"})], issuer_url=TFC)),
    ("OIDC003", "repo:*", lambda: run([gh("repo:*")])),
    ("OIDC003", "owner prefix", lambda: run([gh("repo:acme*/infra:ref:refs/heads/main")])),
    ("OIDC003", "owner '?'", lambda: run([gh("repo:acm?/infra:ref:refs/heads/main")])),
    ("OIDC003", "immutable owner id wildcard", lambda: run([gh("repo:acme@*/infra@77:ref:refs/heads/main")])),
    ("OIDC003", "gitlab group wildcard", lambda: run([allow({"aud": AUD, "namespace_id": "1", "sub": "project_path:*/infra:ref_type:branch:ref:main"})])),
    ("OIDC003", "subject starting with '*'", lambda: run([gh("*:ref:refs/heads/main")])),
    ("OIDC003", "owner with a '.' (GitHub names have none)", lambda: run([gh("repo:acm./infra:ref:refs/heads/main")])),
    ("OIDC003", "gitlab group with a '.' and no namespace id", lambda: run([allow({"aud": AUD, "project_id": "2", "sub": "project_path:my.group/infra:ref_type:branch:ref:main"})])),
    ("OIDC003", "terraform organization wildcard", lambda: run([allow({"aud": AUD, "terraform_organization_id": "org-x", "sub": "organization:acme-*:project:p:workspace:w:run_phase:apply"})])),
    ("OIDC003", "repository claim owner wildcard", lambda: run([allow({"aud": AUD, "repository_owner_id": "1", "repository": "*/infra"})])),
    ("OIDC004", "repo:acme/*", lambda: run([gh("repo:acme/*")])),
    ("OIDC004", "repo name prefix", lambda: run([gh("repo:acme/infra-*:ref:refs/heads/main")])),
    ("OIDC004", "immutable repo wildcard", lambda: run([gh("repo:acme@4242/*")])),
    ("OIDC004", "gitlab group-wide", lambda: run([allow({"aud": AUD, "namespace_id": "1", "sub": "project_path:acme/*"})])),
    ("OIDC004", "every repository's main", lambda: run([gh("repo:acme/*:ref:refs/heads/main")])),
    ("OIDC004", "only the owner id pinned", lambda: run([allow({"aud": AUD, "repository_owner_id": "4242", "event_name": "push"})], issuer_url=GH)),
    ("OIDC004", "only the namespace id pinned", lambda: run([allow({"aud": AUD, "namespace_id": "9", "ref": "main", "ref_protected": "true"})], issuer_url=GITLAB)),
    ("OIDC004", "only the terraform organization id pinned", lambda: run([allow({"aud": AUD, "terraform_organization_id": "org-x", "terraform_run_phase": "apply"})], issuer_url=TFC)),
    ("OIDC004", "terraform workspace wildcard", lambda: run([allow({"aud": AUD, "terraform_organization_id": "org-x", "sub": "organization:acme:project:p:workspace:*:run_phase:apply"})], issuer_url=TFC)),
    ("OIDC004", "terraform project wildcard", lambda: run([allow({"aud": AUD, "terraform_organization_id": "org-x", "sub": "organization:acme:project:*:workspace:w:run_phase:apply"})], issuer_url=TFC)),
    ("OIDC004", "terraform organization only", lambda: run([allow({"aud": AUD, "terraform_organization_id": "org-x", "sub": "organization:acme:*"})], issuer_url=TFC)),
    ("OIDC004", "repository name of four '.' wildcards", lambda: run([gh("repo:acme/....:ref:refs/heads/main")])),
    ("OIDC004", "repository claim", lambda: run([allow({"aud": AUD, "repository_owner_id": "1", "repository": "acme/*"})])),
    ("OIDC005", "any context", lambda: run([gh("repo:acme/infra:*")])),
    ("OIDC005", "any branch", lambda: run([gh("repo:acme/infra:ref:refs/heads/*")])),
    ("OIDC005", "immutable any context", lambda: run([gh("repo:acme@4242/infra@77:*")])),
    ("OIDC005", "ref claim any branch", lambda: run([allow({"aud": AUD, "repository_id": "77", "ref": "refs/heads/*"})])),
    ("OIDC005", "any four-character branch ('.')", lambda: run([gh("repo:acme/infra:ref:refs/heads/....")])),
    ("OIDC005", "prefix of main", lambda: run([gh("repo:acme/infra:ref:refs/heads/main*")])),
    ("OIDC005", "any environment", lambda: run([gh("repo:acme/infra:environment:*")])),
    ("OIDC005", "gitlab subject left open after ref_type", lambda: run([allow({"aud": AUD, "namespace_id": "1", "sub": "project_path:acme/infra:ref_type:branch:*"})])),
    ("OIDC005", "gitlab any branch, pushes only", lambda: run([allow({"aud": AUD, "namespace_id": "1", "sub": "project_path:acme/infra:*", "pipeline_source": "push"})])),
    ("OIDC005", "github repository id, no ref", lambda: run([allow({"aud": AUD, "repository_id": "77", "event_name": "push"})])),
    ("OIDC005", "release family (warning)", lambda: run([gh("repo:acme/infra:ref:refs/heads/release/*")])),
    ("OIDC005", "circleci any branch (warning)", lambda: run([allow({"aud": AUD, "sub": "org/o1/project/p1/user/*"})], issuer_url=CIRCLE)),
    ("OIDC005", "bitbucket any step (warning)", lambda: run([allow({"aud": AUD, "sub": "{abc}:*"})], issuer_url=BITBUCKET)),
    ("OIDC005", "gitlab any ref", lambda: run([allow({"aud": AUD, "namespace_id": "1", "sub": "project_path:acme/infra:ref_type:branch:ref:*"})])),
    ("OIDC006", "any context admits pull_request", lambda: run([gh("repo:acme/infra:*")])),
    ("OIDC006", "pull_request subject", lambda: run([gh("repo:acme/infra:pull_request")])),
    ("OIDC006", "immutable pull_request subject", lambda: run([gh("repo:acme@4242/infra@77:pull_request")])),
    ("OIDC006", "github ids without sub", lambda: run([allow({"aud": AUD, "repository_owner_id": "1", "repository_id": "2"})], issuer_url=GH)),
    ("OIDC006", "event_name pull_request_target", lambda: run([allow({"aud": AUD, "repository_id": "2", "event_name": "pull_request*"})])),
    ("OIDC006", "custom subject with any branch", lambda: run([allow({"aud": AUD, "repository_id": "77", "sub": "repository_id:77:ref:refs/heads/*"})], issuer_url=GH)),
    ("OIDC006", "gitlab any branch, unprotected", lambda: run([allow({"aud": AUD, "namespace_id": "1", "sub": "project_path:acme/infra:*"})])),
    ("OIDC007", "custom sub from environment", lambda: run([allow({"aud": AUD, "sub": "environment:production"})])),
    ("OIDC007", "custom sub from workflow", lambda: run([allow({"aud": AUD, "sub": "workflow:deploy:ref:refs/heads/main"})])),
    ("OIDC007", "only user-controlled claims", lambda: run([allow({"aud": AUD, "environment": "production", "ref": "refs/heads/main"})])),
    ("OIDC008", "github repo by name", lambda: run([gh("repo:acme/infra:ref:refs/heads/main")], issuer_url=GH)),
    ("OIDC008", "github repository claim", lambda: run([allow({"aud": AUD, "repository_owner_id": "1", "repository": "acme/infra", "sub": "repo:acme@1/infra:ref:refs/heads/main"})], issuer_url=GH)),
    ("OIDC008", "gitlab project by path", lambda: run([allow({"aud": AUD, "namespace_id": "1", "sub": "project_path:acme/infra:ref_type:branch:ref:main"})], issuer_url=GITLAB)),
    ("OIDC010", "no aud", lambda: run([gh("repo:acme/infra:ref:refs/heads/main") | {"rules": {"repository_owner_id": "1", "sub": "repo:acme/infra:ref:refs/heads/main"}}])),
    ("OIDC010", "aud wildcard", lambda: run([allow({"aud": "urn:pulumi:org:*", "sub": "system:serviceaccount:ci:runner"})])),
    ("OIDC010", "AWS audience", lambda: run([allow({"aud": "sts.amazonaws.com", "sub": "system:serviceaccount:ci:runner"})])),
    ("OIDC010", "GitHub default audience", lambda: run([gh("repo:acme/infra:ref:refs/heads/main") | {"rules": {"aud": "https://github.com/acme", "repository_owner_id": "1", "sub": "repo:acme/infra:ref:refs/heads/main"}}])),
    ("OIDC010", "Kubernetes default audience (the issuer)", lambda: run([allow({"aud": EKS, "sub": "system:serviceaccount:ci:runner"})], issuer_url=EKS)),
    ("OIDC011", "another organization", lambda: run([allow({"aud": "urn:pulumi:org:other", "sub": "system:serviceaccount:ci:runner"})])),
    ("OIDC011", "not a Pulumi audience (org unknown)", lambda: run([allow({"aud": "my-audience", "sub": "system:serviceaccount:ci:runner"})], organization=None)),
    ("OIDC012", "literal dot", lambda: run([gh("repo:acme/site.io:ref:refs/heads/main")])),
    ("OIDC012", "'?' as exactly one", lambda: run([gh("repo:acme/infra:ref:refs/tags/v?")])),
    ("OIDC012", "'*' between delimiters", lambda: run([allow({"aud": AUD, "sub": "system:serviceaccount:*:runner"})])),
    ("OIDC012", "prefix collision", lambda: run([gh("repo:acme/infra:ref:refs/heads/main*")])),
    ("OIDC013", "allow shadowed by deny", lambda: run([deny({"aud": AUD, "sub": "repo:acme/*"}), gh("repo:acme/infra:ref:refs/heads/main")])),
    ("OIDC013", "broader allow first", lambda: run([gh("repo:acme/*"), gh("repo:acme/infra:ref:refs/heads/main")])),
    ("OIDC013", "broader allow later, same grant", lambda: run([gh("repo:acme/infra:ref:refs/heads/main"), gh("repo:acme/*")])),
    ("OIDC013", "duplicate", lambda: run([gh("repo:acme/infra:ref:refs/heads/main"), gh("repo:acme/infra:ref:refs/heads/main")])),
    ("OIDC013", "an allow next to CLOSED", lambda: run([*closed_policies("acme"), gh("repo:acme/infra:ref:refs/heads/main")])),
    ("OIDC013", "team wildcard covers team", lambda: run([
        allow({"aud": AUD, "sub": "system:serviceaccount:ci:runner"}, "team", teamName="plat*"),
        allow({"aud": AUD, "sub": "system:serviceaccount:ci:runner"}, "team", teamName="platform"),
    ])),
    ("OIDC015", "admin for a wildcard subject", lambda: run([gh("repo:acme/infra:*") | {"authorizedPermissions": ["admin"]}])),
    ("OIDC015", "admin without sub", lambda: run([allow({"aud": AUD, "repository_id": "77", "ref": "refs/heads/main"}, authorizedPermissions=["admin"])])),
    ("OIDC015", "circleci admin on any branch", lambda: run([allow({"aud": AUD, "sub": "org/o1/project/p1/user/*"}, authorizedPermissions=["admin"])], issuer_url=CIRCLE)),
    ("OIDC015", "terraform workspace id, phase wildcard", lambda: run([allow({"aud": AUD, "terraform_workspace_id": "ws-1", "terraform_run_phase": "appl*"}, authorizedPermissions=["admin"])], issuer_url=TFC)),
    ("OIDC015", "admin with a dotted subject", lambda: run([gh("repo:acme/site.io:ref:refs/heads/main") | {"authorizedPermissions": ["admin"]}])),
    ("OIDC016", "CI issuer over 1 h", lambda: lint_issuer(GH, max_expiration_seconds=7200)),
    ("OIDC016", "any issuer over 24 h", lambda: lint_issuer(EKS, max_expiration_seconds=90000)),
    ("OIDC016", "requested over the cap", lambda: lint_issuer(EKS, max_expiration_seconds=3600, requested_expiration_seconds=7200)),
    ("OIDC017", "http", lambda: lint_issuer("http://issuer.example.com")),
    ("OIDC017", "loopback http (warning)", lambda: lint_issuer("http://127.0.0.1:8080/test-issuer")),
    ("OIDC017", "query", lambda: lint_issuer("https://issuer.example.com/?tenant=1")),
    ("OIDC017", "fragment", lambda: lint_issuer("https://issuer.example.com/#x")),
    ("OIDC017", "userinfo", lambda: lint_issuer("https://user:pw@issuer.example.com")),
    ("OIDC017", "github trailing slash", lambda: lint_issuer(GH + "/")),
    ("OIDC019", "private key member", lambda: lint_issuer(EKS, jwks={"keys": [GOOD_JWK | {"d": "AAAA"}]})),
    ("OIDC019", "symmetric key", lambda: lint_issuer(EKS, jwks={"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "s"}]})),
    ("OIDC019", "no kid", lambda: lint_issuer(EKS, jwks={"keys": [_jwk(kid=None)]})),
    ("OIDC019", "duplicate kid", lambda: lint_issuer(EKS, jwks={"keys": [GOOD_JWK, GOOD_JWK]})),
    ("OIDC019", "use enc", lambda: lint_issuer(EKS, jwks={"keys": [GOOD_JWK | {"use": "enc"}]})),
    ("OIDC019", "1024-bit RSA", lambda: lint_issuer(EKS, jwks={"keys": [SMALL_JWK]})),
    ("OIDC019", "too many keys", lambda: lint_issuer(EKS, jwks={"keys": [GOOD_JWK | {"kid": f"k{i}"} for i in range(21)]})),
    ("OIDC019", "no keys", lambda: lint_issuer(EKS, jwks={"keys": []})),
    ("OIDC021", "thumbprints configured", lambda: lint_issuer(EKS, thumbprints=["a" * 64])),
    ("OIDC021", "SHA-1 thumbprint", lambda: lint_issuer(EKS, thumbprints=["a" * 40])),
    ("OIDC027", "unused for 90 days", lambda: lint_issuer(EKS, last_used="2026-01-01 00:00:00.000", now=NOW_2026_04_01)),
    ("OIDC027", "ISO 8601 lastUsed, 200 days", lambda: lint_issuer(EKS, last_used="2025-09-13T00:00:00Z", now=NOW_2026_04_01)),
    ("OIDC023", "jti pinned", lambda: run([gh("repo:acme/infra:ref:refs/heads/main", jti="abc")])),
    ("OIDC023", "pod name pinned", lambda: run([allow({"aud": AUD, "sub": "system:serviceaccount:ci:runner", '"kubernetes.io".pod.name': "runner-x7k2p"})])),
    ("OIDC024", "namespace with a '.' wildcard", lambda: run([allow({"aud": AUD, "sub": "system:serviceaccount:c.:runner"})])),
    ("OIDC024", "namespace wildcard", lambda: run([allow({"aud": AUD, "sub": "system:serviceaccount:*:runner"})])),
    ("OIDC024", "service-account wildcard", lambda: run([allow({"aud": AUD, "sub": "system:serviceaccount:ci:*"})])),
    ("OIDC024", "default service account", lambda: run([allow({"aud": AUD, "sub": "system:serviceaccount:ci:default"})])),
    ("OIDC024", "system:*", lambda: run([allow({"aud": AUD, "sub": "system:*"})])),
    ("OIDC024", "cluster issuer, namespace only", lambda: run([allow({"aud": AUD, '"kubernetes.io".namespace': "ci"})], issuer_url=GKE)),
    ("OIDC025", "cluster-internal issuer without JWKS", lambda: lint_issuer("https://kubernetes.default.svc.cluster.local")),
    ("OIDC025", "private IP issuer without JWKS", lambda: lint_issuer("https://10.0.0.12/oidc")),
    ("OIDC026", "36 policies", lambda: run([deny({"aud": AUD, "sub": f"repo:acme/r{i}:*"}) for i in range(36)])),
    ("OIDC028", "terraform any run phase", lambda: run([allow({"aud": AUD, "terraform_organization_id": "org-x", "sub": "organization:acme:project:p:workspace:w:run_phase:*"})], issuer_url=TFC)),
    ("OIDC028", "terraform run phase left open", lambda: run([allow({"aud": AUD, "terraform_organization_id": "org-x", "sub": "organization:acme:project:p:workspace:w:*"})], issuer_url=TFC)),
    ("OIDC028", "terraform workspace id without phase", lambda: run([allow({"aud": AUD, "terraform_organization_id": "org-x", "terraform_workspace_id": "ws-1"})], issuer_url=TFC)),
    ("OIDC030", "circleci without an SSH deny", lambda: run([allow({"aud": AUD, "sub": "org/o1/project/p1/user/*", CC_REF: "refs/heads/main"})], issuer_url=CIRCLE)),
    ("OIDC030", "circleci SSH deny after the allow", lambda: run([allow({"aud": AUD, "sub": "org/o1/project/p1/user/*"}), SSH_DENY], issuer_url=CIRCLE)),
    ("OIDC030", "circleci SSH deny for another token type", lambda: run([SSH_DENY | {"tokenType": "team", "teamName": "ops"}, allow({"aud": AUD, "sub": "org/o1/project/p1/user/*"})], issuer_url=CIRCLE)),
    ("OIDC040", "a dot in a team name", lambda: run([allow({"aud": AUD, "sub": "system:serviceaccount:ci:deploy"}, "team", teamName="plat.form")])),
    ("OIDC041", "a tag without a digest", lambda: mutable_image_findings("pulumi/pulumi:3.272.0")),
    ("OIDC042", "a misspelt claim", lambda: run([gh("repo:acme/infra:ref:refs/heads/main", repositry_id="77")], issuer_url=GH)),
    ("OIDC042", "a claim of another platform", lambda: run([gh("repo:acme/infra:ref:refs/heads/main", ref_protected="true")])),
]

# (rule id, label, findings) — none may contain the rule id.
NEAR_MISSES: list[tuple[str, str, Callable[[], list[Finding]]]] = [
    ("OIDC001", "aud and sub", lambda: run([allow({"aud": AUD, "sub": "system:serviceaccount:ci:runner"})])),
    ("OIDC001", "deny with aud only (CLOSED)", lambda: run(closed_policies("acme"))),
    ("OIDC002", "github owner id exact", lambda: run([gh("repo:acme/infra:ref:refs/heads/main")], issuer_url=GH)),
    ("OIDC002", "github repository id exact", lambda: run([allow({"aud": AUD, "repository_id": "77", "sub": "repo:acme/infra:ref:refs/heads/main"})], issuer_url=GH)),
    ("OIDC002", "github immutable subject", lambda: run([allow({"aud": AUD, "sub": "repo:acme@4242/infra@77:ref:refs/heads/main"})], issuer_url=GH)),
    ("OIDC002", "issuer unknown (rule needs the issuer)", lambda: run([allow({"aud": AUD, "sub": "repo:acme/infra:ref:refs/heads/main"})])),
    ("OIDC002", "gitlab namespace id", lambda: run([allow({"aud": AUD, "namespace_id": "9", "sub": "project_path:acme/infra:ref_type:branch:ref:main"})], issuer_url=GITLAB)),
    ("OIDC002", "self-managed gitlab is not shared", lambda: run([allow({"aud": AUD, "sub": "project_path:acme/infra:ref_type:branch:ref:main"})], issuer_url="https://gitlab.acme.example")),
    ("OIDC002", "circleci project pinned", lambda: run([allow({"aud": AUD, "sub": "org/0e5a0c3d/project/77aa/user/*"})], issuer_url=CIRCLE)),
    ("OIDC002", "bitbucket repository in sub", lambda: run([allow({"aud": AUD, "sub": "{abc}:*"})], issuer_url=BITBUCKET)),
    ("OIDC002", "bitbucket deployment subject", lambda: run([allow({"aud": AUD, "sub": "{abc}{env}:*"})], issuer_url=BITBUCKET)),
    ("OIDC002", "github exact classic subject without owner id (OIDC008 warns)", lambda: run([allow({"aud": AUD, "sub": "repo:acme/infra:ref:refs/heads/main"})], issuer_url=GH)),
    ("OIDC002", "github custom subject starting with the owner id", lambda: run([allow({"aud": AUD, "sub": "repository_owner_id:4242:repository_id:77:environment:production"})], issuer_url=GH)),
    ("OIDC002", "terraform exact subject without organization id", lambda: run([allow({"aud": AUD, "sub": "organization:acme:project:p:workspace:w:run_phase:apply"})], issuer_url=TFC)),
    ("OIDC002", "bitbucket repositoryUuid", lambda: run([allow({"aud": AUD, "repositoryUuid": "{abc}", "sub": "{abc}:*"})], issuer_url=BITBUCKET)),
    ("OIDC002", "terraform organization id", lambda: run([allow({"aud": AUD, "terraform_organization_id": "org-abc", "sub": "organization:acme:project:p:workspace:w:run_phase:apply"})], issuer_url=TFC)),
    ("OIDC002", "deny on a shared issuer", lambda: run([deny({"aud": AUD, "sub": "repo:*"})], issuer_url=GH)),
    ("OIDC003", "owner written out", lambda: run([gh("repo:acme/*")])),
    ("OIDC003", "immutable owner written out", lambda: run([gh("repo:acme@4242/infra@77:ref:refs/heads/main")])),
    ("OIDC003", "deny with repo:*", lambda: run([deny({"aud": AUD, "sub": "repo:*"}), gh("repo:acme/infra:ref:refs/heads/main")])),
    ("OIDC004", "dot inside the repository name (OIDC012 warns)", lambda: run([gh("repo:acme/site.io:ref:refs/heads/main")])),
    ("OIDC004", "owner id and repository id", lambda: run([allow({"aud": AUD, "repository_owner_id": "4242", "repository_id": "77", "ref": "refs/heads/main"})], issuer_url=GH)),
    ("OIDC004", "namespace id and project id", lambda: run([allow({"aud": AUD, "namespace_id": "9", "project_id": "2", "ref_protected": "true"})], issuer_url=GITLAB)),
    ("OIDC004", "terraform one workspace", lambda: run([allow({"aud": AUD, "terraform_organization_id": "org-x", "sub": "organization:acme:project:p:workspace:w:run_phase:apply"})], issuer_url=TFC)),
    ("OIDC004", "one repository, any ref", lambda: run([gh("repo:acme/infra:*")])),
    ("OIDC004", "immutable, one repository", lambda: run([gh("repo:acme@4242/infra@77:*")])),
    ("OIDC005", "main only", lambda: run([gh("repo:acme/infra:ref:refs/heads/main")])),
    ("OIDC005", "gitlab release branches, protected", lambda: run([allow({"aud": AUD, "namespace_id": "1", "sub": "project_path:acme/infra:ref_type:branch:ref:release/*", "ref_protected": "true"})])),
    ("OIDC005", "gitlab any ref, protected", lambda: run([allow({"aud": AUD, "namespace_id": "1", "sub": "project_path:acme/infra:*", "ref_protected": "true"})])),
    ("OIDC005", "gitlab project, protected environment", lambda: run([allow({"aud": AUD, "project_id": "2", "environment": "production", "environment_protected": "true"})], issuer_url=GITLAB)),
    ("OIDC005", "github any context, environment pinned", lambda: run([gh("repo:acme/infra:*", environment="production")])),
    ("OIDC005", "exact ref claim", lambda: run([allow({"aud": AUD, "repository_id": "77", "ref": "refs/heads/main"})])),
    ("OIDC005", "'?' in the branch is a look-alike (OIDC012 warns)", lambda: run([gh("repo:acme/infra:ref:refs/heads/mai?")])),
    ("OIDC005", "circleci main branch", lambda: run([SSH_DENY, allow({"aud": AUD, "sub": "org/o1/project/p1/user/*", CC_REF: "refs/heads/main"})], issuer_url=CIRCLE)),
    ("OIDC005", "bitbucket deployment environment", lambda: run([allow({"aud": AUD, "sub": "{abc}{env}:*"})], issuer_url=BITBUCKET)),
    ("OIDC005", "environment", lambda: run([gh("repo:acme/infra:environment:production")])),
    ("OIDC006", "main only", lambda: run([gh("repo:acme/infra:ref:refs/heads/main")], issuer_url=GH)),
    ("OIDC006", "any context but event_name push", lambda: run([gh("repo:acme/infra:*", event_name="push")])),
    ("OIDC006", "ids without sub but ref pinned", lambda: run([allow({"aud": AUD, "repository_owner_id": "1", "repository_id": "2", "ref": "refs/heads/main"})], issuer_url=GH)),
    ("OIDC006", "gitlab protected refs only", lambda: run([allow({"aud": AUD, "namespace_id": "1", "ref_protected": "true", "sub": "project_path:acme/infra:*"})])),
    ("OIDC006", "github ids and an environment", lambda: run([allow({"aud": AUD, "repository_id": "77", "environment": "production"})], issuer_url=GH)),
    ("OIDC006", "gitlab protected environment", lambda: run([allow({"aud": AUD, "project_id": "2", "environment": "production", "environment_protected": "true"})], issuer_url=GITLAB)),
    ("OIDC006", "custom subject pinning an environment", lambda: run([allow({"aud": AUD, "repository_id": "77", "sub": "repository_id:77:environment:production"})], issuer_url=GH)),
    ("OIDC006", "kubernetes", lambda: run([allow({"aud": AUD, "sub": "system:serviceaccount:ci:runner"})])),
    ("OIDC007", "repository first", lambda: run([gh("repo:acme/infra:environment:production")])),
    ("OIDC007", "custom sub with an id anchor", lambda: run([allow({"aud": AUD, "repository_id": "77", "sub": "environment:production"})])),
    ("OIDC007", "custom sub starting with the owner id", lambda: run([allow({"aud": AUD, "sub": "repository_owner_id:4242:environment:production"})])),
    ("OIDC008", "repository id pinned", lambda: run([gh("repo:acme/infra:ref:refs/heads/main", repository_id="77")], issuer_url=GH)),
    ("OIDC008", "immutable subject", lambda: run([gh("repo:acme@4242/infra@77:ref:refs/heads/main")], issuer_url=GH)),
    ("OIDC008", "issuer not given", lambda: run([gh("repo:acme/infra:ref:refs/heads/main")])),
    ("OIDC008", "gitlab project id", lambda: run([allow({"aud": AUD, "namespace_id": "1", "project_id": "2", "sub": "project_path:acme/infra:ref_type:branch:ref:main"})], issuer_url=GITLAB)),
    ("OIDC010", "Pulumi audience", lambda: run([allow({"aud": AUD, "sub": "system:serviceaccount:ci:runner"})], issuer_url=EKS)),
    ("OIDC010", "deny without aud", lambda: run([deny({"sub": "repo:acme/infra:pull_request"})])),
    ("OIDC011", "this organization", lambda: run([allow({"aud": AUD, "sub": "system:serviceaccount:ci:runner"})])),
    ("OIDC011", "a Pulumi audience (org unknown)", lambda: run([allow({"aud": AUD, "sub": "system:serviceaccount:ci:runner"})], organization=None)),
    ("OIDC012", "delimiter before trailing '*'", lambda: run([gh("repo:acme/infra:ref:refs/heads/release/*")])),
    ("OIDC012", "no metacharacters", lambda: run([gh("repo:acme/infra:ref:refs/heads/main")])),
    ("OIDC012", "footguns in a deny", lambda: run([deny({"aud": AUD, "sub": "repo:acme/site.io:*"})])),
    ("OIDC013", "deny narrower than the allow", lambda: run([deny({"aud": AUD, "sub": "repo:acme/infra:pull_request"}), gh("repo:acme/infra:*")])),
    ("OIDC013", "deny on another claim", lambda: run([deny({"aud": AUD, "event_name": "pull_request"}), gh("repo:acme/infra:ref:refs/heads/main")])),
    ("OIDC013", "different token types", lambda: run([gh("repo:acme/*"), gh("repo:acme/infra:ref:refs/heads/main") | {"tokenType": "team", "teamName": "ops"}])),
    ("OIDC013", "narrow first with a different grant", lambda: run([gh("repo:acme/infra:ref:refs/heads/main") | {"roleID": "deployer"}, gh("repo:acme/*")])),
    ("OIDC013", "narrow admin after a broad non-admin", lambda: run([gh("repo:acme/*"), gh("repo:acme/infra:environment:prod") | {"authorizedPermissions": ["admin"]}])),
    ("OIDC013", "disjoint allows", lambda: run([gh("repo:acme/infra:ref:refs/heads/main"), gh("repo:acme/app:ref:refs/heads/main")])),
    ("OIDC015", "admin for one exact subject", lambda: run([gh("repo:acme/infra:environment:production") | {"authorizedPermissions": ["admin"]}])),
    ("OIDC015", "circleci project on one branch", lambda: run([allow({"aud": AUD, "sub": "org/o1/project/p1/user/*", '"oidc.circleci.com/vcs-ref"': "refs/heads/main"}, authorizedPermissions=["admin"])], issuer_url=CIRCLE)),
    ("OIDC015", "terraform workspace id and apply", lambda: run([allow({"aud": AUD, "terraform_organization_id": "org-x", "terraform_workspace_id": "ws-1", "terraform_run_phase": "apply"}, authorizedPermissions=["admin"])], issuer_url=TFC)),
    ("OIDC015", "non-admin wildcard", lambda: run([gh("repo:acme/infra:*")])),
    ("OIDC016", "CI issuer, 1 h", lambda: lint_issuer(GH, max_expiration_seconds=3600)),
    ("OIDC016", "cluster issuer, 2 h", lambda: lint_issuer(EKS, max_expiration_seconds=7200)),
    ("OIDC016", "service default (None) is not checked", lambda: lint_issuer(GH)),
    ("OIDC017", "https", lambda: lint_issuer("https://issuer.example.com")),
    ("OIDC017", "AKS trailing slash", lambda: lint_issuer(AKS)),
    ("OIDC019", "good JWKS", lambda: lint_issuer(EKS, jwks={"keys": [GOOD_JWK]})),
    ("OIDC021", "no thumbprints", lambda: lint_issuer(EKS, thumbprints=None)),
    ("OIDC027", "used 89 days ago", lambda: lint_issuer(EKS, last_used="2026-01-02 00:00:00.001", now=NOW_2026_04_01)),
    ("OIDC027", "lastUsed not reported", lambda: lint_issuer(EKS, last_used=None, now=NOW_2026_04_01)),
    ("OIDC027", "lastUsed unreadable", lambda: lint_issuer(EKS, last_used="yesterday", now=NOW_2026_04_01)),
    ("OIDC023", "pod name wildcard", lambda: run([allow({"aud": AUD, "sub": "system:serviceaccount:ci:runner", '"kubernetes.io".pod.name': "runner-*"})])),
    ("OIDC024", "one service account", lambda: run([allow({"aud": AUD, "sub": "system:serviceaccount:ci:pulumi-runner"})], issuer_url=EKS)),
    ("OIDC024", "cluster issuer, service account by nested claim", lambda: run([allow({"aud": AUD, '"kubernetes.io".namespace': "ci", '"kubernetes.io".serviceaccount.name': "runner"})], issuer_url=GKE)),
    ("OIDC025", "cluster-internal issuer with JWKS", lambda: lint_issuer("https://kubernetes.default.svc.cluster.local", jwks={"keys": [GOOD_JWK]})),
    ("OIDC025", "public issuer", lambda: lint_issuer(EKS)),
    ("OIDC026", "35 policies", lambda: run([deny({"aud": AUD, "sub": f"repo:acme/r{i}:*"}) for i in range(35)])),
    ("OIDC028", "terraform apply pinned in sub", lambda: run([allow({"aud": AUD, "terraform_organization_id": "org-x", "sub": "organization:acme:project:p:workspace:w:run_phase:apply"})], issuer_url=TFC)),
    ("OIDC028", "terraform plan pinned by claim", lambda: run([allow({"aud": AUD, "terraform_organization_id": "org-x", "terraform_workspace_id": "ws-1", "terraform_run_phase": "plan"})], issuer_url=TFC)),
    ("OIDC028", "not terraform", lambda: run([gh("repo:acme/infra:ref:refs/heads/main")], issuer_url=GH)),
    ("OIDC030", "circleci SSH deny first", lambda: run([SSH_DENY, allow({"aud": AUD, "sub": "org/o1/project/p1/user/*"})], issuer_url=CIRCLE)),
    ("OIDC030", "circleci allow refusing SSH reruns itself", lambda: run([allow({"aud": AUD, "sub": "org/o1/project/p1/user/*", CC_SSH: "false"})], issuer_url=CIRCLE)),
    ("OIDC030", "not circleci", lambda: run([gh("repo:acme/infra:ref:refs/heads/main")], issuer_url=GH)),
    ("OIDC040", "an exact team name", lambda: run([allow({"aud": AUD, "sub": "system:serviceaccount:ci:deploy"}, "team", teamName="platform")])),
    ("OIDC040", "a wildcard in a deny's user", lambda: run([deny({"aud": AUD, "sub": "system:serviceaccount:ci:*"}, "personal", userLogin="*")])),
    ("OIDC041", "a digest-pinned image", lambda: mutable_image_findings("pulumi/pulumi:3.272.0@sha256:" + "ab" * 32)),
    ("OIDC042", "every claim GitHub documents", lambda: run([gh("repo:acme/infra:ref:refs/heads/main", repository_id="77", repo_property_tier="prod")], issuer_url=GH)),
    ("OIDC042", "an issuer without a claim profile", lambda: run([allow({"aud": AUD, "sub": "custom:x", "repositry_owner_id": "1"})], issuer_url="https://idp.example.com")),
]


@pytest.mark.parametrize("rule_id,label,findings", FIRES, ids=[f"{r}-{l}" for r, l, _ in FIRES])
def test_rule_fires(rule_id, label, findings):
    found = [f for f in findings() if f.id == rule_id]
    assert found, f"{rule_id} did not fire on: {label}"
    for f in found:
        assert f.message and f.fix
        assert f.severity in lint.SEVERITIES


@pytest.mark.parametrize("rule_id,label,findings", NEAR_MISSES, ids=[f"{r}-{l}" for r, l, _ in NEAR_MISSES])
def test_rule_near_miss(rule_id, label, findings):
    found = [str(f) for f in findings() if f.id == rule_id]
    assert not found, f"{rule_id} fired on the near miss {label}: {found}"


def test_every_catalog_rule_has_a_firing_case_and_a_near_miss():
    assert {r for r, _, _ in FIRES} == set(RULES)
    assert {r for r, _, _ in NEAR_MISSES} == set(RULES)


def test_catalog_rows_are_well_formed():
    for rule_id, rule in RULES.items():
        assert rule.id == rule_id and rule_id.startswith("OIDC") and len(rule_id) == 7
        assert rule.severity in lint.SEVERITIES
        assert rule.needs in (None, "issuer_url", "issuer")
    assert "OIDC002" in lint.catalog_text()


# -- findings name the policy, the claim and the fix ----------------------------------------


def test_finding_names_policy_claim_and_fix():
    [finding] = [f for f in run([deny({"aud": AUD, "sub": "repo:acme/x:*"}), gh("repo:*")]) if f.id == "OIDC003"]
    assert finding.policy == 1 and finding.claim == "sub"
    assert "policy 1" in finding.message and "repo:*" in finding.message
    assert "repo:OWNER/REPO" in finding.fix
    data = finding.to_json()
    assert {"id", "severity", "policy", "claim", "message", "fix"} <= set(data)
    assert data["id"] == "OIDC003" and data["severity"] == "error" and data["policy"] == 1


def test_severity_can_differ_from_the_catalog_default():
    [loopback] = lint_issuer("http://127.0.0.1:9/test-issuer")
    assert loopback.id == "OIDC017" and loopback.severity == "warning"
    [plain] = [f for f in lint_issuer("http://issuer.example.com") if f.id == "OIDC017"]
    assert plain.severity == "error"
    private = [f for f in lint_issuer(EKS, jwks={"keys": [GOOD_JWK | {"d": "AAAA"}]}) if f.id == "OIDC019"]
    assert private[0].severity == "error"


def test_findings_are_ordered_by_policy():
    findings = run([gh("repo:acme/infra:*"), allow({"aud": AUD})], issuer_url=GH)
    assert [f.policy for f in findings] == sorted(f.policy for f in findings)


def test_dicts_are_accepted_as_well_as_policies():
    assert ids(lint_policies([allow({"aud": AUD})])) == ids(lint_policies(parse_policies([allow({"aud": AUD})])))


# -- documents that must lint clean of errors ------------------------------------------------

ISSUERS = [GH, GITLAB, CIRCLE, BITBUCKET, TFC, EKS, GKE, AKS, "https://issuer.example.com", None]


@pytest.mark.parametrize("issuer", ISSUERS)
def test_closed_and_deny_only_documents_have_no_errors(issuer):
    assert errors(run(closed_policies("acme"), issuer_url=issuer)) == []
    deny_only = [deny({"aud": AUD, "sub": "repo:*"}), deny({"aud": AUD, "sub": "system:serviceaccount:*"}, "team", teamName="*a")]
    assert errors(run(deny_only, issuer_url=issuer)) == []


PRESETS = {
    "github main": (GH, gh("repo:acme/infra:ref:refs/heads/main")),
    "github environment, team": (GH, gh("repo:acme/infra:environment:production") | {"tokenType": "team", "teamName": "platform"}),
    "github admin": (GH, gh("repo:acme/infra:ref:refs/heads/main") | {"authorizedPermissions": ["admin"]}),
    "github immutable": (GH, allow({"aud": AUD, "repository_owner_id": "4242", "repository_id": "77", "sub": "repo:acme@4242/infra@77:ref:refs/heads/main"})),
    "gitlab": (GITLAB, allow({"aud": AUD, "namespace_id": "9", "sub": "project_path:acme/infra:ref_type:branch:ref:main"})),
    "gitlab personal": (GITLAB, allow({"aud": AUD, "namespace_id": "9", "project_id": "2", "sub": "project_path:acme/infra:ref_type:branch:ref:main"}, "personal", userLogin="alice")),
    "eks": (EKS, allow({"aud": AUD, "sub": "system:serviceaccount:ci:pulumi-runner"})),
    "gke": (GKE, allow({"aud": AUD, "sub": "system:serviceaccount:ci:pulumi-runner"})),
    "aks": (AKS, allow({"aud": AUD, "sub": "system:serviceaccount:ci:pulumi-runner"})),
    "self-managed cluster": ("https://k8s.acme.example", allow({"aud": AUD, "sub": "system:serviceaccount:ci:pulumi-runner"})),
    "circleci": (CIRCLE, [SSH_DENY, allow({"aud": AUD, "sub": "org/0e5a0c3d/project/77aa/user/*"})]),
}


@pytest.mark.parametrize("name", PRESETS)
def test_recommended_presets_have_no_errors(name):
    issuer, policy = PRESETS[name]
    findings = run(policy if isinstance(policy, list) else [policy], issuer_url=issuer)
    assert errors(findings) == [], [str(f) for f in findings]


# -- GitHub's two subject forms ---------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern,expected",
    [
        ("repo:acme/infra:ref:refs/heads/main", ("github", "acme", None, "infra", None, "ref:refs/heads/main")),
        ("repo:acme@4242/infra@77:ref:refs/heads/main", ("github", "acme", "4242", "infra", "77", "ref:refs/heads/main")),
        ("repo:acme@4242/infra@77:pull_request", ("github", "acme", "4242", "infra", "77", "pull_request")),
        ("repo:acme/*", ("github", "acme", None, "*", None, None)),
        ("project_path:acme/sub/infra:ref_type:branch:ref:main", ("gitlab", "acme", None, "sub/infra", None, "ref_type:branch:ref:main")),
        ("system:serviceaccount:ci:runner", ("kubernetes", "ci", None, "runner", None, None)),
        ("org/o1/project/p1/user/u1", ("circleci", "o1", None, "p1", None, "user/u1")),
    ],
)
def test_parse_subject(pattern, expected):
    s = lint.parse_subject(pattern)
    assert (s.kind, s.tenant, s.tenant_id, s.workload, s.workload_id, s.context) == expected


def test_both_github_forms_get_the_same_verdicts():
    for classic, immutable in [
        ("repo:acme/infra:*", "repo:acme@4242/infra@77:*"),
        ("repo:acme/*", "repo:acme@4242/*"),
        ("repo:acme/infra:pull_request", "repo:acme@4242/infra@77:pull_request"),
        ("repo:acme*/infra:*", "repo:acme*@4242/infra@77:*"),
    ]:
        a = ids(run([gh(classic)])) - {"OIDC008"}
        b = ids(run([gh(immutable)])) - {"OIDC008"}
        assert a == b, (classic, a, immutable, b)


def test_immutable_subject_pins_the_tenant_but_not_with_a_wildcard_id():
    ok = run([allow({"aud": AUD, "sub": "repo:acme@4242/infra@77:ref:refs/heads/main"})], issuer_url=GH)
    assert "OIDC002" not in ids(ok)
    # A wildcard in the owner id is refused as a wildcard in the owner part (the owner's name,
    # written out, still keeps other tenants out: OIDC002 has nothing to add).
    loose = run([allow({"aud": AUD, "sub": "repo:acme@42*/infra@77:ref:refs/heads/main"})], issuer_url=GH)
    assert [f.severity for f in loose if f.id == "OIDC003"] == ["error"]


# -- covers(): the conservative "broader than" used by OIDC013 ---------------------------------


@pytest.mark.parametrize(
    "broad,narrow,expected",
    [
        ("repo:acme/*", "repo:acme/infra:ref:refs/heads/main", True),
        ("repo:acme/*", "repo:acme/infra:*", True),
        ("repo:acme/infra:*", "repo:acme/*", False),
        ("a.c", "abc", True),
        ("a.c", "a?c", False),
        ("x", "x", True),
        ("x*", "y*", False),
    ],
)
def test_covers(broad, narrow, expected):
    assert lint.covers(broad, narrow) is expected


# -- waivers ----------------------------------------------------------------------------------


def test_waiver_moves_findings_and_keeps_the_reason():
    findings = run([gh("repo:acme/site.io:ref:refs/heads/main")])
    active, waived = apply_waivers(findings, {"OIDC012": "the repository name has a dot; repository_owner_id pinned"})
    assert "OIDC012" not in ids(active)
    assert [f.id for f in waived] == ["OIDC012"]
    assert waived[0].waiver.startswith("the repository name")
    assert waived[0].to_json()["waived"] == waived[0].waiver


def test_waiver_for_a_rule_that_did_not_fire_is_harmless():
    findings = run([gh("repo:acme/infra:ref:refs/heads/main")])
    active, waived = apply_waivers(findings, {"OIDC001": "not applicable"})
    assert active == findings and waived == []


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_waiver_needs_a_reason(reason):
    with pytest.raises(WaiverError, match="OIDC012.*no reason"):
        apply_waivers([], {"OIDC012": reason})


def test_unknown_rule_in_waivers_is_reported():
    with pytest.raises(WaiverError) as e:
        apply_waivers([], {"OIDC12": "typo", "OIDC999": "unknown"})
    assert len(e.value.problems) == 2
    assert "'OIDC12' names no lint rule" in str(e.value) and "OIDC001" in str(e.value)


def test_lint_report_for_check():
    report = lint.lint([gh("repo:acme/infra:*")], issuer_url=GH, organization="acme", waivers={"OIDC005": "deploys from any branch by design"})
    assert [f.id for f in report.errors] == ["OIDC006"]
    assert "OIDC005" in {f.id for f in report.waived}
    assert {f.id for f in report.warnings} == {"OIDC008"}
    assert report.to_json()["errors"] == 1
    assert str(report.errors[0]).startswith("OIDC006 error: policy 0")


def test_the_project_presets_lint_clean_of_errors():
    """components/presets.py builds the recommended policies: none may be a lint error
    (CircleCI with organization admin must also pin the branch, see OIDC015)."""
    presets = pytest.importorskip("pulumi_oidc_trust.components.presets")
    Grant = presets.Grant
    grants = [Grant.organization(admin=True), Grant.organization(role_id="deployer"), Grant.team("platform"), Grant.personal("alice")]
    circle_org = "0e5a0c3d-1111-2222-3333-444455556666"
    for grant in grants:
        documents = {
            GH: presets.github_actions("acme", "infra", organization="acme", repository_owner_id=4242, grant=grant),
            GH + " ": presets.github_actions("acme", "infra", organization="acme", repository_owner_id=4242, environment="production", ref=None, grant=grant),
            GITLAB: presets.gitlab("acme/infra", organization="acme", namespace_id=9, grant=grant),
            EKS: presets.kubernetes("ci", "pulumi-runner", organization="acme", grant=grant),
        }
        if not grant.admin:
            documents[presets.circleci_issuer_url(circle_org)] = presets.circleci(circle_org, "77aa0c3d-1111-2222-3333-444455556666", organization="acme", grant=grant)
        for issuer, policies in documents.items():
            findings = lint_policies(policies, issuer_url=issuer.strip(), organization="acme")
            assert errors(findings) == [], [str(f) for f in findings]


@pytest.mark.parametrize(
    "rule_id,severity,findings",
    [
        ("OIDC004", "error", lambda: run([gh("repo:acme/*:ref:refs/heads/main")])),
        ("OIDC005", "error", lambda: run([gh("repo:acme/infra:ref:refs/heads/*")])),
        ("OIDC005", "warning", lambda: run([gh("repo:acme/infra:ref:refs/heads/release/*")])),
        ("OIDC005", "warning", lambda: run([allow({"aud": AUD, "sub": "{abc}:*"})], issuer_url=BITBUCKET)),
        ("OIDC024", "error", lambda: run([allow({"aud": AUD, "sub": "system:serviceaccount:*:runner"})])),
        ("OIDC024", "warning", lambda: run([allow({"aud": AUD, "sub": "system:serviceaccount:ci:*"})])),
        ("OIDC008", "warning", lambda: run([allow({"aud": AUD, "sub": "repo:acme/infra:ref:refs/heads/main"})], issuer_url=GH)),
    ],
    ids=["org-wide", "any-branch", "branch-family", "bitbucket-any-step", "k8s-any-namespace", "k8s-any-account", "github-name-only"],
)
def test_severities_listed_in_the_readme(rule_id, severity, findings):
    assert [f.severity for f in findings() if f.id == rule_id] == [severity]
