"""The claim-profile table: which claims each platform's tokens carry, from its token reference.

``CLAIM_PROFILES`` is the one table of claim names per platform, used by the linter (OIDC042,
a rule on a claim the platform never issues) and by ``simulate`` (the same words next to a rule
that failed because its claim is missing). Each profile names its source; names marked
UNCONFIRMED were not found in the platform's own reference and are listed so that a rule on them
is not taken for a typo.

A rule on a claim the token does not carry never matches: an allow with a misspelt claim admits
nothing (and the real claim the author meant is not pinned), a deny with one refuses nothing.
``claim_problem`` says so: an error when a listed name is close (a typo: "did you mean
'repository_owner_id'?"), a warning otherwise, because platforms add claims.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..policy import parse_claim_path


@dataclass(frozen=True)
class ClaimProfile:
    """The claims one platform's tokens carry."""

    platform: str
    title: str
    source: str
    """Where the list comes from (document, section, repository path), and what is UNCONFIRMED."""
    claims: frozenset[tuple[str, ...]]
    """Claim paths, as ``policy.parse_claim_path`` splits them (nested claims have several parts)."""
    prefixes: tuple[str, ...] = ()
    """Top-level claim names starting with one of these are the platform's (GitHub ``repo_property_*``)."""

    @property
    def reference(self) -> str:
        """The source's first document, short enough for a message."""
        return self.source.split(" (")[0].split(";")[0]

    def knows(self, path: tuple[str, ...]) -> bool:
        """The path is one of the platform's claims, or an object holding some of them."""
        if path in self.claims or any(known[: len(path)] == path for known in self.claims):
            return True
        return len(path) == 1 and any(path[0].startswith(p) for p in self.prefixes)


def _paths(*names: str) -> frozenset[tuple[str, ...]]:
    return frozenset(tuple(n.split("|")) for n in names)


_JWT = ("aud", "iss", "sub", "exp", "iat", "nbf", "jti")

CLAIM_PROFILES: dict[str, ClaimProfile] = {
    p.platform: p
    for p in (
        ClaimProfile(
            "github",
            "GitHub Actions",
            "GitHub docs, OpenID Connect reference, OIDC token claims "
            "(github/docs content/actions/reference/security/oidc.md; claims_supported at "
            "https://token.actions.githubusercontent.com/.well-known/openid-configuration)",
            _paths(
                *_JWT, "actor", "actor_id", "base_ref", "check_run_id", "enterprise", "enterprise_id", "environment",
                "event_name", "head_ref", "job_workflow_ref", "job_workflow_sha", "ref", "ref_type", "repository",
                "repository_id", "repository_owner", "repository_owner_id", "repository_visibility", "run_attempt",
                "run_id", "run_number", "runner_environment", "workflow", "workflow_ref", "workflow_sha",
            ),
            prefixes=("repo_property_",),
        ),
        ClaimProfile(
            "gitlab",
            "GitLab CI/CD",
            "GitLab docs, OpenID Connect (OIDC) Authentication Using ID Tokens, Token payload; job_* and "
            "source_* project claims: gitlab-org/gitlab!202241 and !258245 (GitLab 18.3+, fork merge requests); "
            "job_source, job_policy_ref_uri, job_policy_ref_sha: gitlab-org/gitlab#459001 (UNCONFIRMED in the docs)",
            _paths(
                *_JWT, "namespace_id", "namespace_path", "project_id", "project_path", "project_visibility", "user_id",
                "user_login", "user_email", "user_access_level", "user_identities", "groups_direct", "pipeline_id",
                "pipeline_source", "job_id", "ref", "ref_type", "ref_path", "ref_protected", "environment",
                "environment_protected", "environment_action", "deployment_tier", "runner_id", "runner_environment",
                "sha", "ci_config_ref_uri", "ci_config_sha", "job_project_id", "job_project_path", "job_namespace_id",
                "job_namespace_path", "source_project_id", "source_project_path", "source_namespace_id",
                "source_namespace_path", "job_source", "job_policy_ref_uri", "job_policy_ref_sha",
            ),
        ),
        ClaimProfile(
            "kubernetes",
            "Kubernetes service-account tokens",
            "Kubernetes docs, Service account tokens (research/peers.md §3.2: token examples with "
            "the kubernetes.io claims of current clusters)",
            _paths(
                *_JWT, "kubernetes.io|namespace", "kubernetes.io|serviceaccount|name", "kubernetes.io|serviceaccount|uid",
                "kubernetes.io|pod|name", "kubernetes.io|pod|uid", "kubernetes.io|node|name", "kubernetes.io|node|uid",
                "kubernetes.io|secret|name", "kubernetes.io|secret|uid", "kubernetes.io|warnafter",
            ),
        ),
        ClaimProfile(
            "circleci",
            "CircleCI",
            "CircleCI docs, Using OpenID Connect tokens in jobs, Format of the OpenID Connect ID token "
            "(circleci/circleci-docs openid-connect-tokens.adoc)",
            _paths(
                "aud", "iss", "sub", "exp", "iat", "oidc.circleci.com/project-id", "oidc.circleci.com/vcs-origin",
                "oidc.circleci.com/vcs-ref", "oidc.circleci.com/context-ids", "oidc.circleci.com/ssh-rerun",
            ),
        ),
        ClaimProfile(
            "bitbucket",
            "Bitbucket Pipelines",
            "Atlassian docs, Integrate Pipelines with resource servers using OIDC (example token); "
            "UNCONFIRMED: a complete published list (names as Atlassian's examples show them)",
            _paths(
                "aud", "iss", "sub", "exp", "iat", "accountUuid", "workspaceUuid", "repositoryUuid", "pipelineUuid",
                "stepUuid", "deploymentEnvironmentUuid", "branchName",
            ),
        ),
        ClaimProfile(
            "terraform",
            "HCP Terraform / Terraform Enterprise",
            "HashiCorp docs, Workload identity tokens (token structure); terraform_project_id and "
            "terraform_project_name UNCONFIRMED in the table we read",
            _paths(
                *_JWT, "terraform_run_phase", "terraform_run_id", "terraform_workspace_id", "terraform_workspace_name",
                "terraform_full_workspace", "terraform_organization_id", "terraform_organization_name",
                "terraform_project_id", "terraform_project_name",
            ),
        ),
    )
}
"""The one claim-profile table (issue 26 "unknown claim names", issue 27): platform -> profile."""


def claim_path_text(path: tuple[str, ...]) -> str:
    """A claim path as a rule writes it: segments with a ``.`` or ``/`` quoted
    (``'"kubernetes.io".pod.name'``, ``'"oidc.circleci.com/ssh-rerun"'``)."""
    return ".".join(f'"{s}"' if "." in s or "/" in s else s for s in path)


def _distance(a: str, b: str) -> int:
    """Edit distance with adjacent transpositions (optimal string alignment)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def closest_claim(profile: ClaimProfile, path: tuple[str, ...]) -> tuple[str, ...] | None:
    """A listed claim the written ``path`` is probably a typo of: the same name in other case or
    quoting (``oidc.circleci.com/vcs-ref`` unquoted splits into three segments), or at most two
    edits away (one for names shorter than six characters)."""
    written = ".".join(path).lower()
    best: tuple[int, tuple[str, ...]] | None = None
    for known in sorted(profile.claims):
        d = _distance(written, ".".join(known).lower())
        if d <= (2 if len(written) >= 6 else 1) and (best is None or d < best[0]):
            best = (d, known)
    return best[1] if best else None


@dataclass(frozen=True)
class ClaimProblem:
    """A rule's claim is not one the platform issues. ``suggestion`` is the close listed name."""

    path: str
    severity: str
    text: str
    suggestion: str | None = None


def claim_problem(platform: str | None, written: str) -> ClaimProblem | None:
    """Why the claim path ``written`` (as in a rule) is not one ``platform``'s tokens carry; None
    when it is, or when the platform has no profile. The text is what lint and simulate say."""
    profile = CLAIM_PROFILES.get(platform or "")
    if profile is None:
        return None
    try:
        path = parse_claim_path(written)
    except ValueError:
        return None  # the model reports malformed paths itself
    if profile.knows(path):
        return None
    close = closest_claim(profile, path)
    if close is not None:
        suggestion = claim_path_text(close)
        return ClaimProblem(
            written,
            "error",
            f"{profile.title} tokens carry no claim {written!r}: did you mean {suggestion!r}? A rule on a claim the "
            "token does not carry never matches",
            suggestion,
        )
    return ClaimProblem(
        written,
        "warning",
        f"{written!r} is not a claim {profile.title} documents ({profile.reference}); a rule on a claim the token "
        "does not carry never matches",
    )
