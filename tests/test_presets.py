"""The presets: the exact policies they produce, their argument checks, and that none of them,
called with its required arguments, produces a policy the linter reports as an error."""

from __future__ import annotations

import pytest

from pulumi_oidc_trust.components import runner_names, runner_spec
from pulumi_oidc_trust.components.presets import (
    GITHUB_ISSUER_URL,
    GITLAB_ISSUER_URL,
    Grant,
    PresetError,
    aks_issuer_url,
    circleci,
    circleci_issuer_url,
    eks_issuer_url,
    github_actions,
    gitlab,
    gke_issuer_url,
    kubernetes,
    login_job,
    service_account_subject,
)
from pulumi_oidc_trust.provider.lint import errors, lint_policies
from pulumi_oidc_trust.provider.policy import Policy, Request, evaluate, parse_policies
from tests.k8s_helpers import ROLE_ARN

ORG = "acme"
AUD = "urn:pulumi:org:acme"
TEAM = Grant.team("platform")
ORG_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
PROJECT_ID = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
EKS_URL = eks_issuer_url("us-west-2", "EXAMPLED539D4633E53DE1B71EXAMPLE")


# --------------------------------------------------------------------------------------------
# Grants


@pytest.mark.parametrize(
    "grant, fields",
    [
        (Grant.team("platform"), {"token_type": "team", "team_name": "platform"}),
        (Grant.personal("alice"), {"token_type": "personal", "user_login": "alice"}),
        (Grant.runner("runner-1"), {"token_type": "runner", "runner_id": "runner-1"}),
        (Grant.organization(role_id="deployer"), {"token_type": "organization", "role_id": "deployer"}),
        (Grant.organization(admin=True), {"token_type": "organization", "authorized_permissions": ["admin"]}),
    ],
)
def test_a_grant_becomes_the_token_fields_of_an_allow(grant, fields):
    policy = grant.allow({"aud": AUD, "sub": "x"})
    expected = {"decision": "allow", "authorized_permissions": [], "rules": {"aud": AUD, "sub": "x"}, **fields}
    assert policy.to_python() == expected
    assert parse_policies([policy.to_wire()]) == [policy]  # the model accepts it as is


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Grant.organization(), "exactly one of a custom role id and admin"),
        (lambda: Grant.organization(role_id="r", admin=True), "exactly one"),
        (lambda: Grant.organization(admin="yes"), "admin: 'yes' is not a bool"),
        (lambda: Grant.team("plat*"), "team: 'plat\\*' contains a wildcard"),
        (lambda: Grant.personal(""), "login: '' is not a user login"),
        (lambda: Grant.runner(" r "), "runner_id"),
        # Built directly, a Grant is checked the same way.
        (lambda: Grant("organization"), "exactly one"),
        (lambda: Grant("team", name="platform", admin=True), "role_id: team tokens take no role or admin"),
        (lambda: Grant("admin"), "token_type: 'admin' is not a token type"),
    ],
)
def test_grants_are_explicit_and_exact(make, message):
    with pytest.raises(PresetError, match=message):
        make()


# --------------------------------------------------------------------------------------------
# GitHub Actions


def test_github_classic_subject_on_a_ref_pins_audience_and_ids():
    (policy,) = github_actions("acme", "infra", organization=ORG, repository_owner_id=1234, repository_id="5678", grant=TEAM)
    assert policy == Policy(
        "allow", "team",
        {"aud": AUD, "sub": "repo:acme/infra:ref:refs/heads/main", "repository_owner_id": "1234", "repository_id": "5678"},
        team_name="platform",
    )  # fmt: skip


def test_github_environment_subject_also_pins_the_ref_unless_told_not_to():
    (policy,) = github_actions("acme", "infra", organization=ORG, repository_owner_id="1", environment="production", grant=TEAM)
    assert policy.rules == {
        "aud": AUD, "sub": "repo:acme/infra:environment:production", "repository_owner_id": "1", "ref": "refs/heads/main",
    }  # fmt: skip
    (policy,) = github_actions("acme", "infra", organization=ORG, repository_owner_id="1", environment="production", ref=None, grant=TEAM)
    assert "ref" not in policy.rules


def test_github_immutable_subject():
    (policy,) = github_actions(
        "acme", "infra", organization=ORG, repository_owner_id=1, repository_id=2, ref="refs/tags/v1",
        immutable_subject=True, grant=Grant.organization(role_id="deployer"),
    )  # fmt: skip
    assert policy.rules["sub"] == "repo:acme@1/infra@2:ref:refs/tags/v1"
    assert (policy.token_type, policy.role_id) == ("organization", "deployer")


def test_github_policy_admits_its_workflow_and_refuses_look_alikes():
    policies = github_actions("acme", "infra", organization=ORG, repository_owner_id=1, repository_id=2, grant=TEAM)
    claims = {"aud": AUD, "sub": "repo:acme/infra:ref:refs/heads/main", "repository_owner_id": "1", "repository_id": "2"}
    request = Request("team", "platform")
    assert evaluate(policies, claims, request).allowed
    for change in (
        {"repository_owner_id": "999"},  # a recreated "acme" account
        {"sub": "repo:acme/infra:ref:refs/heads/dev"},
        {"sub": "repo:acme/infra:pull_request"},
        {"aud": "urn:pulumi:org:other"},
    ):
        assert not evaluate(policies, {**claims, **change}, request).allowed, change


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(owner="acme/infra"), "owner: 'acme/infra' contains '/'; pass owner and repo separately"),
        (dict(owner="ac*"), "owner: 'ac\\*' contains a wildcard"),
        (dict(owner="-acme"), "owner: .*not a GitHub account name"),
        (dict(repo="*"), "repo: '\\*' contains a wildcard"),
        (dict(repo="acme/infra"), "repo: .*pass the name only"),
        (dict(repository_owner_id="acme"), "repository_owner_id: 'acme' is not a numeric id; pass the digits only; find it with `gh api"),
        (dict(repository_owner_id=True), "repository_owner_id"),
        (dict(repository_id="12a"), "repository_id"),
        (dict(ref="main"), "ref: 'main' is not a branch or tag ref; write the full ref"),
        (dict(ref="refs/pull/1/merge"), "ref: .*not a branch or tag ref"),
        (dict(ref="*"), "ref: .*starts with a wildcard"),
        (dict(ref=None), "ref: is None and no environment"),
        (dict(environment="prod*"), "environment"),
        (dict(immutable_subject=True), "repository_id: is required with immutable_subject=True"),
        (dict(grant=None), "grant: None is not a Grant"),
        (dict(organization="acme/x"), "organization"),
    ],
)
def test_github_argument_checks(kwargs, message):
    args = dict(owner="acme", repo="infra", organization=ORG, repository_owner_id=1, grant=TEAM) | kwargs
    with pytest.raises(PresetError, match=message):
        github_actions(args.pop("owner"), args.pop("repo"), **args)


# --------------------------------------------------------------------------------------------
# GitLab


def test_gitlab_policy():
    (policy,) = gitlab("acme/infra", organization=ORG, namespace_id=42, project_id="43", grant=TEAM)
    assert policy.rules == {
        "aud": AUD, "sub": "project_path:acme/infra:ref_type:branch:ref:main", "namespace_id": "42", "project_id": "43",
    }  # fmt: skip


def test_gitlab_self_managed_tag_in_a_subgroup():
    (policy,) = gitlab(
        "acme/platform/infra", organization=ORG, namespace_id=42, ref="v1.2.0", ref_type="tag",
        grant=Grant.personal("alice"), url="https://gitlab.example.com",
    )  # fmt: skip
    assert policy.rules == {"aud": AUD, "sub": "project_path:acme/platform/infra:ref_type:tag:ref:v1.2.0", "namespace_id": "42"}
    assert policy.user_login == "alice"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(project_path="infra"), "project_path: 'infra' is not a GitLab project path; write GROUP/PROJECT"),
        (dict(project_path="acme/*"), "project_path: .*wildcard"),
        (dict(namespace_id="acme"), "namespace_id: 'acme' is not a numeric id"),
        (dict(project_id=-1), "project_id"),
        (dict(ref="refs/heads/main"), "ref: .*full ref.*pass 'main'"),
        (dict(ref="*"), "ref: .*wildcard"),
        (dict(ref_type="commit"), "ref_type: 'commit' is neither 'branch' nor 'tag'"),
        (dict(url="http://gitlab.example.com"), "url: .*https"),
    ],
)
def test_gitlab_argument_checks(kwargs, message):
    args = dict(project_path="acme/infra", organization=ORG, namespace_id=42, grant=TEAM) | kwargs
    with pytest.raises(PresetError, match=message):
        gitlab(args.pop("project_path"), **args)


# --------------------------------------------------------------------------------------------
# Kubernetes


def test_kubernetes_policy():
    (policy,) = kubernetes("ci", "deployer", organization=ORG, grant=TEAM)
    assert policy.rules == {"aud": AUD, "sub": "system:serviceaccount:ci:deployer"}
    (policy,) = kubernetes("ci", "deployer", organization=ORG, grant=TEAM, service_account_uid=PROJECT_ID.upper())
    assert policy.rules['"kubernetes.io".serviceaccount.uid'] == PROJECT_ID


@pytest.mark.parametrize(
    "namespace, service_account",
    [("default", "pulumi-login"), ("ci", "deployer"), ("a" * 63, "sa.with.dots")],
)
def test_the_subject_is_the_one_the_runner_computes(namespace, service_account):
    # The runner derives its subject itself; this keeps the preset and the runner in step.
    names = runner_names("job", organization=ORG, namespace=namespace, service_account_name=service_account)
    assert service_account_subject(namespace, service_account) == names.subject


@pytest.mark.parametrize(
    "args, message",
    [
        (("*", "deployer"), "namespace: '\\*' contains a wildcard"),
        (("ci", "*"), "service_account: '\\*' contains a wildcard"),
        (("CI", "deployer"), "namespace: 'CI' is not a valid Kubernetes name"),
        (("ci", "Deployer"), "service_account: 'Deployer' is not a valid Kubernetes name"),
        (("a" * 64, "deployer"), "at most 63"),
        (("ci:x", "deployer"), "namespace"),
    ],
)
def test_kubernetes_argument_checks(args, message):
    with pytest.raises(PresetError, match=message):
        kubernetes(*args, organization=ORG, grant=TEAM)


def test_kubernetes_audience_override_and_uid_checks():
    (policy,) = kubernetes("ci", "deployer", organization=ORG, grant=TEAM, audience="sts.amazonaws.com")
    assert policy.rules["aud"] == "sts.amazonaws.com"
    with pytest.raises(PresetError, match="audience"):
        kubernetes("ci", "deployer", organization=ORG, grant=TEAM, audience="urn:*")
    with pytest.raises(PresetError, match="service_account_uid: 'x' is not a UUID"):
        kubernetes("ci", "deployer", organization=ORG, grant=TEAM, service_account_uid="x")


def test_issuer_url_helpers_and_their_trailing_slashes():
    assert eks_issuer_url("us-west-2", "ABC123") == "https://oidc.eks.us-west-2.amazonaws.com/id/ABC123"
    assert eks_issuer_url("cn-north-1", "ABC123") == "https://oidc.eks.cn-north-1.amazonaws.com.cn/id/ABC123"
    assert gke_issuer_url("acme-prod", "us-central1", "prod") == (
        "https://container.googleapis.com/v1/projects/acme-prod/locations/us-central1/clusters/prod"
    )
    assert gke_issuer_url("acme-prod", "europe-west1-b", "prod").endswith("/locations/europe-west1-b/clusters/prod")
    assert aks_issuer_url("westeurope", ORG_ID, PROJECT_ID) == f"https://westeurope.oic.prod-aks.azure.com/{ORG_ID}/{PROJECT_ID}/"
    assert circleci_issuer_url(ORG_ID) == f"https://oidc.circleci.com/org/{ORG_ID}"


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: eks_issuer_url("us west", "ABC"), "region"),
        (lambda: eks_issuer_url("us-west-2", "ABC/def"), "oidc_id"),
        (lambda: gke_issuer_url("Acme", "us-central1", "prod"), "project"),
        (lambda: gke_issuer_url("acme-prod", "us", "prod"), "location"),
        (lambda: gke_issuer_url("acme-prod", "us-central1", "Prod"), "cluster"),
        (lambda: aks_issuer_url("West Europe", ORG_ID, PROJECT_ID), "region"),
        (lambda: aks_issuer_url("westeurope", "tenant", PROJECT_ID), "tenant_id"),
        (lambda: circleci_issuer_url("acme"), "org_id"),
    ],
)
def test_issuer_url_helper_checks(make, message):
    with pytest.raises(PresetError, match=message):
        make()


# --------------------------------------------------------------------------------------------
# CircleCI


def test_circleci_policy():
    ssh_deny, policy = circleci(ORG_ID, PROJECT_ID, organization=ORG, grant=TEAM)
    assert (ssh_deny.decision, ssh_deny.token_type, ssh_deny.team_name) == ("deny", "team", "platform")
    assert ssh_deny.rules == {"aud": AUD, '"oidc.circleci.com/ssh-rerun"': "true"}
    assert policy.decision == "allow"
    assert policy.rules == {"aud": AUD, "sub": f"org/{ORG_ID}/project/{PROJECT_ID}/user/*"}


@pytest.mark.parametrize("args, message", [(("acme", PROJECT_ID), "org_id"), ((ORG_ID, "*"), "project_id")])
def test_circleci_argument_checks(args, message):
    with pytest.raises(PresetError, match=message):
        circleci(*args, organization=ORG, grant=TEAM)


# --------------------------------------------------------------------------------------------
# The runner's policy


def test_login_job_policy_is_built_from_the_runner_spec():
    spec = runner_spec("pulumi-login", organization=ORG, namespace="ci", team="platform")
    assert login_job(spec) == [TEAM.allow({"aud": spec.names.audience, "sub": spec.names.subject})]
    spec = runner_spec("pulumi-login", organization=ORG, user="alice")
    assert login_job(spec)[0].user_login == "alice"
    with pytest.raises(PresetError, match="grant: .*organization token"):
        login_job(runner_spec("pulumi-login", organization=ORG))
    assert login_job(runner_spec("pulumi-login", organization=ORG), grant=Grant.organization(admin=True))[0].authorized_permissions == ("admin",)
    with pytest.raises(PresetError, match="runner: .*RunnerSpec"):
        login_job(runner_names("pulumi-login", organization=ORG))


# --------------------------------------------------------------------------------------------
# Lint: no preset with its required arguments (and the recommended token source) is an error

PRESET_CASES = {
    "github": (GITHUB_ISSUER_URL, lambda g: github_actions("acme", "infra", organization=ORG, repository_owner_id=1, grant=g)),
    "github-environment": (
        GITHUB_ISSUER_URL,
        lambda g: github_actions("acme", "infra", organization=ORG, repository_owner_id=1, environment="production", grant=g),
    ),
    "github-immutable": (
        GITHUB_ISSUER_URL,
        lambda g: github_actions("acme", "infra", organization=ORG, repository_owner_id=1, repository_id=2, immutable_subject=True, grant=g),
    ),
    "gitlab.com": (GITLAB_ISSUER_URL, lambda g: gitlab("acme/infra", organization=ORG, namespace_id=42, grant=g)),
    "gitlab-self-managed": (
        "https://gitlab.example.com",
        lambda g: gitlab("acme/infra", organization=ORG, namespace_id=42, grant=g, url="https://gitlab.example.com"),
    ),
    "eks": (EKS_URL, lambda g: kubernetes("ci", "deployer", organization=ORG, grant=g)),
    "gke": (gke_issuer_url("acme-prod", "us-central1", "prod"), lambda g: kubernetes("ci", "deployer", organization=ORG, grant=g)),
    "aks": (aks_issuer_url("westeurope", ORG_ID, PROJECT_ID), lambda g: kubernetes("ci", "deployer", organization=ORG, grant=g)),
    "circleci": (circleci_issuer_url(ORG_ID), lambda g: circleci(ORG_ID, PROJECT_ID, organization=ORG, grant=g)),
    "login-job": (EKS_URL, lambda g: login_job(runner_spec("pulumi-login", organization=ORG, namespace="ci"), grant=g)),
}
GRANTS = {
    "team": TEAM,
    "personal": Grant.personal("alice"),
    "role": Grant.organization(role_id="deployer"),
}


@pytest.mark.parametrize("grant", GRANTS, ids=str)
@pytest.mark.parametrize("case", PRESET_CASES, ids=str)
def test_no_preset_produces_a_lint_error(case, grant):
    issuer_url, make = PRESET_CASES[case]
    findings = lint_policies(make(GRANTS[grant]), issuer_url=issuer_url, organization=ORG)
    assert errors(findings) == [], [str(f) for f in findings]


def test_all_presets_together_on_one_issuer_lint_clean_of_errors():
    policies = [
        *github_actions("acme", "infra", organization=ORG, repository_owner_id=1, repository_id=2, grant=TEAM),
        *github_actions("acme", "infra", organization=ORG, repository_owner_id=1, repository_id=2, environment="production",
                        grant=Grant.organization(role_id="deployer")),
    ]  # fmt: skip
    assert errors(lint_policies(policies, issuer_url=GITHUB_ISSUER_URL, organization=ORG)) == []


def test_dots_in_names_are_warned_not_errors_and_the_ids_keep_look_alikes_out():
    policies = github_actions("acme", "infra.live", organization=ORG, repository_owner_id=1, repository_id=2, grant=TEAM)
    findings = lint_policies(policies, issuer_url=GITHUB_ISSUER_URL, organization=ORG)
    assert [f.id for f in findings] == ["OIDC012"] and errors(findings) == []
    look_alike = {"aud": AUD, "sub": "repo:acme/infraXlive:ref:refs/heads/main", "repository_owner_id": "1", "repository_id": "3"}
    assert not evaluate(policies, look_alike, Request("team", "platform")).allowed


def test_the_eks_token_source_is_a_lint_error():
    # The IRSA token's audience is AWS's: the linter reports it (OIDC010) unless waived.
    spec = runner_spec("pulumi-login", organization=ORG, team="platform", token="eks",
                       service_account_annotations={"eks.amazonaws.com/role-arn": ROLE_ARN})  # fmt: skip
    findings = lint_policies(login_job(spec), issuer_url=EKS_URL, organization=ORG)
    assert [f.id for f in errors(findings)] == ["OIDC010"]
