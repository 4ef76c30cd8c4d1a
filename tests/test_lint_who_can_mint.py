"""Issue 27 and the linter parts of issue 26: severity follows who can mint the token, subjects in
every form of the one grammar table, claim names against the one claim-profile table, an audience
naming another organization, and the service's default document recognised by its meaning in the
reading tools only.

The severity table holds, per platform, a subject pinned by immutable id, one pinned by name and
one with a wildcard, with the severity each rule must report (``catalog.SEVERITY_PRINCIPLE``:
an error when someone outside the trusted repository can mint or an escalation applies, a
warning when only the writers of the one repository pinned by id can).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pulumi_oidc_trust.components import presets
from pulumi_oidc_trust.components.runner_manifests import runner_names
from pulumi_oidc_trust.provider import audit, issuer_policy, policy as model
from pulumi_oidc_trust.provider.lint import (
    CLAIM_PROFILES,
    GRAMMARS,
    RULES,
    SEVERITY_PRINCIPLE,
    build_subject,
    claim_problem,
    graded_severity,
    lint_policies,
    parse_subject,
)
from pulumi_oidc_trust.provider.lint import policy_rules
from pulumi_oidc_trust.provider.policy import Request, parse_policies
from pulumi_oidc_trust.provider.simulate import render_json, render_text, simulate

ORG = "acme"
AUD = "urn:pulumi:org:acme"
GH = "https://token.actions.githubusercontent.com"
GITLAB = "https://gitlab.com"
CC_ORG = "0e5a0c3d-1111-2222-3333-444455556666"
CC_PROJECT = "77aa0c3d-1111-2222-3333-444455556666"
CC_USER = "5c5c0c3d-1111-2222-3333-444455556666"
CIRCLE = f"https://oidc.circleci.com/org/{CC_ORG}"
BITBUCKET = "https://api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc"
BB_REPO = "{8a1f0c3d-1111-2222-3333-444455556666}"
TFC = "https://app.terraform.io"
EKS = "https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
SSH = '"oidc.circleci.com/ssh-rerun"'
VCS_REF = '"oidc.circleci.com/vcs-ref"'
SA_UID = '"kubernetes.io".serviceaccount.uid'


def team(rules: dict[str, str]) -> dict[str, Any]:
    return {"decision": "allow", "tokenType": "team", "teamName": "platform", "rules": {"aud": AUD, **rules}}


def admin(rules: dict[str, str]) -> dict[str, Any]:
    return {"decision": "allow", "tokenType": "organization", "authorizedPermissions": ["admin"], "rules": {"aud": AUD, **rules}}


def deny(rules: dict[str, str], token_type: str = "team") -> dict[str, Any]:
    names = {"teamName": "platform"} if token_type == "team" else {}
    return {"decision": "deny", "tokenType": token_type, **names, "rules": {"aud": AUD, **rules}}


def findings(policies: list[dict[str, Any]], issuer: str | None, organization: str | None = ORG):
    return lint_policies(parse_policies(policies), issuer_url=issuer, organization=organization)


# -- the severity table --------------------------------------------------------------------------

ID, NAME, WILDCARD = "id-pinned", "name-pinned", "wildcard"


@dataclass(frozen=True)
class Row:
    platform: str
    pin: str
    label: str
    issuer: str
    policies: tuple[dict[str, Any], ...]
    expect: dict[str, str]
    """rule id -> the one severity its findings must have."""
    no_errors: bool = False
    """No finding of this row may be an error."""


ROWS: list[Row] = []


def row(platform: str, pin: str, label: str, issuer: str, *policies: dict[str, Any], expect: dict[str, str], no_errors: bool = False) -> None:
    ROWS.append(Row(platform, pin, label, issuer, tuple(policies), expect, no_errors))


# GitHub: the ID-bearing subject (or repository_id) leaves only the repository's writers.
row("github", ID, "immutable subject, any branch", GH, team({"sub": "repo:acme@4242/infra@77:ref:refs/heads/*"}), expect={"OIDC005": "warning"}, no_errors=True)
row("github", ID, "repository_id and a classic subject, any branch", GH, team({"repository_id": "77", "sub": "repo:acme/infra:ref:refs/heads/*"}), expect={"OIDC005": "warning"}, no_errors=True)
row("github", ID, "custom subject led by ids, any branch", GH, team({"sub": "repository_owner_id:4242:repository_id:77:ref:refs/heads/*", "event_name": "push"}), expect={"OIDC005": "warning"}, no_errors=True)
row("github", ID, "repository_id and the ref claim, any branch, pushes only", GH, team({"repository_id": "77", "ref": "refs/heads/*", "event_name": "push"}), expect={"OIDC005": "warning"}, no_errors=True)
row("github", ID, "repository_id and the ref claim, any branch, pull_request_target not excluded (escalation)", GH, team({"repository_id": "77", "ref": "refs/heads/*"}), expect={"OIDC005": "error"})
row("github", ID, "immutable subject, main", GH, team({"sub": "repo:acme@4242/infra@77:ref:refs/heads/main"}), expect={}, no_errors=True)
row("github", ID, "immutable subject, any context (pull_request_target: forks)", GH, team({"sub": "repo:acme@4242/infra@77:*"}), expect={"OIDC005": "warning", "OIDC006": "error"})
row("github", ID, "immutable subject, any branch, organization admin (escalation)", GH, admin({"sub": "repo:acme@4242/infra@77:ref:refs/heads/*"}), expect={"OIDC005": "error", "OIDC015": "error"})
row("github", NAME, "classic subject, any branch, owner id pinned", GH, team({"repository_owner_id": "4242", "sub": "repo:acme/infra:ref:refs/heads/*"}), expect={"OIDC005": "error"})
row("github", NAME, "classic subject, main, no ids", GH, team({"sub": "repo:acme/infra:ref:refs/heads/main"}), expect={"OIDC008": "warning"}, no_errors=True)
row("github", WILDCARD, "every repository of the owner id", GH, team({"sub": "repo:acme@4242/*"}), expect={"OIDC004": "error"})
row("github", WILDCARD, "wildcard inside the owner id", GH, team({"sub": "repo:acme@42*/infra@77:ref:refs/heads/main"}), expect={"OIDC003": "error"})
row("github", WILDCARD, "wildcard inside the repository id, any branch", GH, team({"repository_owner_id": "4242", "sub": "repo:acme@4242/infra@7*:ref:refs/heads/*"}), expect={"OIDC004": "error", "OIDC005": "error"})

# GitLab: a project_id-led subject pins the tenant (no OIDC002) and the project.
row("gitlab", ID, "project_id-led subject, main", GITLAB, team({"sub": "project_id:20:ref_type:branch:ref:main"}), expect={}, no_errors=True)
row("gitlab", ID, "project_id-led subject, any pushed branch", GITLAB, team({"sub": "project_id:20:ref_type:branch:ref:*", "pipeline_source": "push"}), expect={"OIDC005": "warning"}, no_errors=True)
row("gitlab", ID, "project_id claim, classic subject, any pushed branch", GITLAB, team({"project_id": "20", "namespace_id": "9", "sub": "project_path:acme/infra:ref_type:branch:ref:*", "pipeline_source": "push"}), expect={"OIDC005": "warning"}, no_errors=True)
row("gitlab", ID, "project_id-led subject, any branch with merge requests (forks)", GITLAB, team({"sub": "project_id:20:ref_type:branch:ref:*"}), expect={"OIDC005": "warning", "OIDC006": "error"})
row("gitlab", NAME, "classic subject, any pushed branch", GITLAB, team({"namespace_id": "9", "sub": "project_path:acme/infra:ref_type:branch:ref:*", "pipeline_source": "push"}), expect={"OIDC005": "error"})
row("gitlab", NAME, "classic subject, main", GITLAB, team({"namespace_id": "9", "sub": "project_path:acme/infra:ref_type:branch:ref:main"}), expect={"OIDC008": "warning"}, no_errors=True)
row("gitlab", WILDCARD, "wildcard inside the project id", GITLAB, team({"sub": "project_id:2*:ref_type:branch:ref:main"}), expect={"OIDC002": "error", "OIDC003": "error"})
row("gitlab", WILDCARD, "every project of the group", GITLAB, team({"namespace_id": "9", "sub": "project_path:acme/*"}), expect={"OIDC004": "error"})

# CircleCI: UUIDs throughout (no name form); a pinned user owns the SSH rerun.
CC = f"org/{CC_ORG}/project/{CC_PROJECT}"
row("circleci", ID, "user pinned, no SSH deny", CIRCLE, team({"sub": f"{CC}/user/{CC_USER}", VCS_REF: "refs/heads/main"}), expect={"OIDC030": "warning"}, no_errors=True)
row("circleci", ID, "any user, no SSH deny", CIRCLE, team({"sub": f"{CC}/user/*", VCS_REF: "refs/heads/main"}), expect={"OIDC030": "error"})
row("circleci", ID, "user pinned, no SSH deny, organization admin (escalation)", CIRCLE, admin({"sub": f"{CC}/user/{CC_USER}", VCS_REF: "refs/heads/main"}), expect={"OIDC030": "error"})
row("circleci", ID, "V2 subject naming the branch, SSH denied first", CIRCLE, deny({SSH: "true"}), team({"sub": f"{CC}/user/*/vcs-origin/github.com/acme/infra/vcs-ref/refs/heads/main"}), expect={}, no_errors=True)
row("circleci", ID, "project pinned, any branch, SSH denied first", CIRCLE, deny({SSH: "true"}), team({"sub": f"{CC}/user/*"}), expect={"OIDC005": "warning"}, no_errors=True)
row("circleci", WILDCARD, "any project", CIRCLE, deny({SSH: "true"}), team({"sub": f"org/{CC_ORG}/project/*/user/*"}), expect={"OIDC004": "error"})

# Bitbucket: UUIDs throughout (no name form).
row("bitbucket", ID, "one repository, any step", BITBUCKET, team({"sub": f"{BB_REPO}:*"}), expect={"OIDC005": "warning"}, no_errors=True)
row("bitbucket", WILDCARD, "any repository", BITBUCKET, team({"sub": "{*}:*"}), expect={"OIDC002": "error"})

# HCP Terraform: ids are claims; the run phase is an escalation (plans run for pull requests).
row("terraform", ID, "workspace id, apply", TFC, team({"terraform_workspace_id": "ws-AbCdEfGh12345678", "terraform_run_phase": "apply"}), expect={}, no_errors=True)
row("terraform", ID, "workspace id, any phase (escalation)", TFC, team({"terraform_workspace_id": "ws-AbCdEfGh12345678"}), expect={"OIDC028": "error"})
row("terraform", NAME, "exact subject, apply, no organization id", TFC, team({"sub": "organization:acme:project:infra:workspace:prod:run_phase:apply"}), expect={"OIDC008": "warning"}, no_errors=True)
row("terraform", WILDCARD, "any workspace", TFC, team({"terraform_organization_id": "org-AbCdEfGh12345678", "sub": "organization:acme:project:infra:workspace:*:run_phase:apply"}), expect={"OIDC004": "error"})

# Kubernetes: one cluster per issuer; the service account's uid is the id.
row("kubernetes", ID, "service-account uid", EKS, team({SA_UID: "6f1c0b9e-1111-2222-3333-444455556666"}), expect={}, no_errors=True)
row("kubernetes", NAME, "one service account by name", EKS, team({"sub": "system:serviceaccount:ci:pulumi-runner"}), expect={}, no_errors=True)
row("kubernetes", NAME, "any account of one namespace", EKS, team({"sub": "system:serviceaccount:ci:*"}), expect={"OIDC024": "warning"}, no_errors=True)
row("kubernetes", WILDCARD, "any namespace", EKS, team({"sub": "system:serviceaccount:*:runner"}), expect={"OIDC024": "error"})


@pytest.mark.parametrize("r", ROWS, ids=[f"{r.platform}-{r.pin}-{r.label}" for r in ROWS])
def test_severity_follows_who_can_mint(r: Row):
    found = findings(list(r.policies), r.issuer)
    text = [str(f) for f in found]
    for rule_id, severity in r.expect.items():
        got = {f.severity for f in found if f.id == rule_id}
        assert got == {severity}, f"{rule_id}: expected {severity}, got {got or 'nothing'}: {text}"
    if r.no_errors:
        assert not [f for f in found if f.severity == "error"], text
    if r.pin == WILDCARD:
        assert any(f.severity == "error" for f in found), text


def test_the_table_covers_every_form_of_every_platform():
    """ID-pinned and wildcard rows for every platform; name-pinned rows wherever the grammar
    table has a name form (CircleCI and Bitbucket subjects are UUIDs throughout)."""
    for platform, forms in GRAMMARS.items():
        pins = {r.pin for r in ROWS if r.platform == platform}
        assert {ID, WILDCARD} <= pins, platform
        has_names = any(f.form == "classic" for f in forms)
        assert (NAME in pins) == has_names, platform


def test_a_demoted_finding_names_the_residual_risk_and_who_can_mint():
    [f] = [f for f in findings([team({"sub": "repo:acme@4242/infra@77:ref:refs/heads/*"})], GH) if f.id == "OIDC005"]
    assert f.severity == "warning"
    assert "repository id 77" in f.message and "residual risk" in f.message
    [f] = [f for f in findings([team({"repository_owner_id": "4242", "sub": "repo:acme/infra:ref:refs/heads/*"})], GH) if f.id == "OIDC005"]
    assert f.severity == "error" and "repository_id pinned this is a warning" in f.message
    [f] = [f for f in findings([team({"sub": f"{CC}/user/{CC_USER}"})], CIRCLE) if f.id == "OIDC030"]
    assert f.severity == "warning" and CC_USER in f.message and "ssh-rerun" in f.fix


def test_the_principle_is_written_once_and_marked_on_its_rules():
    assert graded_severity("outsiders") == "error"
    assert graded_severity("writers") == "warning"
    assert graded_severity("writers", "it grants organization admin") == "error"
    with pytest.raises(ValueError):
        graded_severity("everyone")
    assert {r.id for r in RULES.values() if r.graded} == {"OIDC005", "OIDC030"}
    readme = (Path(__file__).resolve().parents[1] / "docs" / "cli.md").read_text()
    quoted = " ".join(line[2:] for line in readme.splitlines() if line.startswith("> "))
    assert SEVERITY_PRINCIPLE in quoted, "docs/cli.md quotes the catalog's principle word for word"


# -- the subject-grammar table -------------------------------------------------------------------


@pytest.mark.parametrize("form", [f for forms in GRAMMARS.values() for f in forms], ids=lambda f: f"{f.platform}-{f.template}")
def test_every_form_of_the_table_parses_back_to_its_platform_and_form(form):
    subject = parse_subject(form.example)
    assert subject is not None and (subject.kind, subject.form) == (form.platform, form.form)
    assert form.source


def test_the_presets_and_the_runner_build_their_subjects_from_the_table():
    grant = presets.Grant.team("platform")
    [classic] = presets.github_actions("acme", "infra", organization=ORG, repository_owner_id=4242, grant=grant)
    [immutable] = presets.github_actions("acme", "infra", organization=ORG, repository_owner_id=4242, repository_id=77, immutable_subject=True, grant=grant)
    assert classic.rules["sub"] == build_subject("github", "classic", owner="acme", repo="infra", context="ref:refs/heads/main")
    assert immutable.rules["sub"] == build_subject("github", "id", owner="acme", owner_id=4242, repo="infra", repo_id=77, context="ref:refs/heads/main")
    assert parse_subject(immutable.rules["sub"]).form == "id"
    [gl] = presets.gitlab("acme/infra", organization=ORG, namespace_id=9, grant=grant)
    assert parse_subject(gl.rules["sub"]).kind == "gitlab"
    _deny, cc = presets.circleci(CC_ORG, CC_PROJECT, organization=ORG, grant=grant)
    assert cc.rules["sub"] == build_subject("circleci", "id", org_id=CC_ORG, project_id=CC_PROJECT, user_id="*")
    names = runner_names("deploy", organization=ORG, namespace="ci")
    assert names.subject == presets.service_account_subject("ci", names.service_account_name)
    assert parse_subject(names.subject).kind == "kubernetes"


def test_the_id_bearing_github_preset_lints_clean():
    grant = presets.Grant.team("platform")
    policies = presets.github_actions("acme", "infra", organization=ORG, repository_owner_id=4242, repository_id=77, immutable_subject=True, grant=grant)
    assert [f for f in lint_policies(policies, issuer_url=GH, organization=ORG) if f.severity == "error"] == []


def test_simulate_names_the_other_subject_form_and_the_pattern_to_write():
    policies = parse_policies([team({"sub": "repo:acme/infra:ref:refs/heads/main"})])
    claims = {"iss": GH, "aud": AUD, "sub": "repo:acme@4242/infra@77:ref:refs/heads/main"}
    request = Request("team", "platform")
    decision = simulate(policies, claims, request)
    assert not decision.allowed
    text = render_text(decision, policies, request, claims=claims)
    assert "ID-bearing form" in text and "'repo:acme@4242/infra@77:ref:refs/heads/main'" in text
    # and the other way round: an ID-bearing pattern, a classic token
    policies = parse_policies([team({"sub": "repo:acme@4242/infra@77:ref:refs/heads/main"})])
    claims = {"iss": GH, "aud": AUD, "sub": "repo:acme/infra:ref:refs/heads/main"}
    text = render_text(simulate(policies, claims, request), policies, request, claims=claims)
    assert "classic form" in text and "'repo:acme/infra:ref:refs/heads/main'" in text


# -- claim names (issue 26: "Unknown claim names") -------------------------------------------------

TYPO = team({"sub": "repo:acme/infra:ref:refs/heads/main", "repositry_owner_id": "4242"})


@pytest.mark.parametrize("issuer", [GH, None], ids=["with-issuer", "subject-only"])
def test_a_misspelt_claim_is_an_error_with_did_you_mean(issuer):
    [f] = [f for f in findings([TYPO], issuer) if f.id == "OIDC042"]
    assert f.severity == "error" and f.claim == "repositry_owner_id"
    assert "did you mean 'repository_owner_id'" in f.message
    assert "'repository_owner_id'" in str(f.fix)


def test_the_tenant_finding_points_at_the_typo_instead_of_asking_for_the_claim_again():
    policy = team({"job_workflow_ref": "acme/deploy/.github/workflows/d.yml@refs/heads/main", "repositry_owner_id": "4242"})
    [f] = [f for f in findings([policy], GH) if f.id == "OIDC002"]
    assert "'repositry_owner_id'" in f.message and "did you mean 'repository_owner_id'" in f.message


@pytest.mark.parametrize(
    "issuer,rules,written,suggested",
    [
        (CIRCLE, {"sub": f"{CC}/user/*", "oidc.circleci.com/vcs-ref": "refs/heads/main"}, "oidc.circleci.com/vcs-ref", '"oidc.circleci.com/vcs-ref"'),
        (EKS, {"sub": "system:serviceaccount:ci:runner", '"kubernetes.io".serviceacount.name': "runner"}, '"kubernetes.io".serviceacount.name', '"kubernetes.io".serviceaccount.name'),
        (GITLAB, {"sub": "project_path:acme/infra:ref_type:branch:ref:main", "namespace_id": "9", "Project_Id": "2"}, "Project_Id", "project_id"),
        (TFC, {"terraform_workspace_id": "ws-1", "terraform_run_phase": "apply", "terraform_run_phse": "apply"}, "terraform_run_phse", "terraform_run_phase"),
    ],
    ids=["circleci-unquoted-path", "kubernetes-nested", "gitlab-case", "terraform"],
)
def test_typos_on_every_platform(issuer, rules, written, suggested):
    [f] = [f for f in findings([team(rules)], issuer) if f.id == "OIDC042"]
    assert f.severity == "error" and f.claim == written and f"did you mean {suggested!r}" in f.message


def test_an_unknown_claim_with_nothing_close_is_a_warning_and_known_ones_are_quiet():
    found = [f for f in findings([team({"sub": "repo:acme/infra:ref:refs/heads/main", "repository_owner_id": "4242", "deploy_tier": "prod"})], GH) if f.id == "OIDC042"]
    assert [(f.severity, f.claim) for f in found] == [("warning", "deploy_tier")]
    assert "GitHub docs, OpenID Connect reference" in found[0].message
    quiet = team({"sub": "repo:acme/infra:ref:refs/heads/main", "repository_owner_id": "4242", "repo_property_tier": "prod", "check_run_id": "1"})
    assert not [f for f in findings([quiet], GH) if f.id == "OIDC042"]
    # an issuer the table does not know: no claim list, no finding
    assert not [f for f in findings([team({"repositry_owner_id": "1", "custom": "x"})], "https://idp.example.com") if f.id == "OIDC042"]


def test_a_misspelt_claim_in_a_deny_is_reported_too():
    """A deny whose claim is misspelt refuses nothing."""
    policies = [deny({"sub": "repo:acme/infra:pull_request", "event_nam": "pull_request"}), team({"sub": "repo:acme/infra:ref:refs/heads/main", "repository_owner_id": "4242"})]
    [f] = [f for f in findings(policies, GH) if f.id == "OIDC042"]
    assert f.policy == 0 and f.severity == "error" and "did you mean 'event_name'" in f.message


def test_the_claim_table_knows_every_claim_the_rules_read():
    """The rules' own claim lists and the claim-profile table must not disagree."""
    for platform, names in (
        ("github", policy_rules._GITHUB_CLAIMS), ("gitlab", policy_rules._GITLAB_CLAIMS),
        ("terraform", policy_rules._TERRAFORM_CLAIMS), ("bitbucket", policy_rules._BITBUCKET_CLAIMS),
    ):
        for name in names:
            assert claim_problem(platform, name) is None, (platform, name)
    for claim in ('"oidc.circleci.com/project-id"', '"oidc.circleci.com/vcs-ref"', '"oidc.circleci.com/context-ids"', SSH):
        assert claim_problem("circleci", claim) is None, claim
    for claim in ('"kubernetes.io".namespace', '"kubernetes.io".serviceaccount.name', SA_UID, '"kubernetes.io".pod.uid'):
        assert claim_problem("kubernetes", claim) is None, claim
    assert all(p.source for p in CLAIM_PROFILES.values())
    assert set(CLAIM_PROFILES) == set(GRAMMARS)


def test_simulate_says_the_same_about_a_misspelt_claim():
    policies = parse_policies([TYPO])
    claims = {"iss": GH, "aud": AUD, "sub": "repo:acme/infra:ref:refs/heads/main", "repository_owner_id": "4242"}
    request = Request("team", "platform")
    decision = simulate(policies, claims, request)
    text = render_text(decision, policies, request, claims=claims)
    assert "FAIL claim repositry_owner_id is missing (" in text and "did you mean 'repository_owner_id'" in text
    out = render_json(decision, request, claims=claims, policies=policies)
    [hint] = [r["hint"] for r in out["reasons"][0]["rules"] if "hint" in r]
    lint_text = [f.message for f in findings([TYPO], None) if f.id == "OIDC042"][0]
    assert hint in lint_text


def _cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pulumi_oidc_trust.cli", *args], capture_output=True, text=True, input=stdin, timeout=120
    )


def test_the_cli_lint_and_simulate_report_the_typo(tmp_path):
    policies = tmp_path / "policies.json"
    policies.write_text(json.dumps([TYPO]))
    claims = tmp_path / "claims.json"
    claims.write_text(json.dumps({"iss": GH, "aud": AUD, "sub": "repo:acme/infra:ref:refs/heads/main", "repository_owner_id": "4242"}))
    lint = _cli("lint", "--policies", str(policies), "--org", ORG)
    assert lint.returncode == 1 and "OIDC042 error" in lint.stdout and "did you mean 'repository_owner_id'" in lint.stdout
    sim = _cli("simulate", "--policies", str(policies), "--claims", str(claims), "--team", "platform")
    assert sim.returncode == 1 and "did you mean 'repository_owner_id'" in sim.stdout
    sim_json = json.loads(_cli("simulate", "--policies", str(policies), "--claims", str(claims), "--team", "platform", "--format", "json").stdout)
    assert any("did you mean" in r.get("hint", "") for r in sim_json["reasons"][0]["rules"])


# -- organization mismatch (issue 26) ---------------------------------------------------------------


def test_an_audience_naming_another_organization_is_an_error():
    policy = team({"aud": "urn:pulumi:org:my-org", "sub": "system:serviceaccount:ci:runner"})
    [f] = [f for f in findings([policy], EKS, organization="myorg") if f.id == "OIDC011"]
    assert f.severity == "error" and "'my-org'" in f.message and "never admits" in f.message
    assert "urn:pulumi:org:myorg" in str(f.fix)
    # an audience that is no Pulumi organization's stays the warning it was
    [g] = [f for f in findings([team({"aud": "pulumi", "sub": "system:serviceaccount:ci:runner"})], EKS, organization="myorg") if f.id == "OIDC011"]
    assert g.severity == "warning"


def test_an_audience_naming_another_organization_than_the_resources_is_refused_before_anything_is_sent():
    props = {
        "organization": "myorg",
        "issuer_id": "iss-1",
        "issuer_url": EKS,
        "policies": [team({"aud": "urn:pulumi:org:my-org", "sub": "system:serviceaccount:ci:runner"})],
    }
    problems = issuer_policy.validate(props)[1]
    assert any("OIDC011 error" in message for _, message in problems), problems


def test_the_cli_lint_exits_1_on_another_organization(tmp_path):
    policies = tmp_path / "policies.json"
    policies.write_text(json.dumps([team({"aud": "urn:pulumi:org:my-org", "sub": "system:serviceaccount:ci:runner"})]))
    result = _cli("lint", "--policies", str(policies), "--org", "myorg")
    assert result.returncode == 1 and "OIDC011 error" in result.stdout


# -- the default document, recognised by its meaning in the reading tools only ---------------------

EXACT_DEFAULT = [{"decision": "deny", "tokenType": "organization", "authorizedPermissions": [], "rules": {"sub": ""}}]
VARIANTS = {
    "aud beside the empty sub": [{"decision": "deny", "tokenType": "organization", "authorizedPermissions": [], "rules": {"sub": "", "aud": ""}}],
    # Not named in the issue: a team deny with a bare '*', and two denies. Adding a second exact
    # form to the recognition would not make these pass.
    "a team deny of '*'": [{"decision": "deny", "tokenType": "team", "teamName": "*", "rules": {"sub": "*"}}],
    "two denies, one with an empty iss": [
        {"decision": "deny", "tokenType": "organization", "rules": {"iss": ""}},
        {"decision": "deny", "tokenType": "personal", "userLogin": "x", "rules": {"sub": "?"}},
    ],
}


@pytest.mark.parametrize("raw", list(VARIANTS.values()), ids=list(VARIANTS))
def test_the_reading_tools_read_a_deny_only_variant_as_denying_everything(raw, tmp_path):
    with pytest.raises(model.PolicyError):
        parse_policies(raw)  # the model (and so everything that writes) still refuses it
    document = model.read_document({"policies": raw, "version": 3})
    assert document.service_default and document.policies == () and document.version == 3
    kind, _doc, problem = audit.classify(ORG, {"policies": raw})
    assert kind == audit.SERVICE_DEFAULT and problem is None
    path = tmp_path / "policies.json"
    path.write_text(json.dumps({"policies": raw}))
    lint = _cli("lint", "--policies", str(path))
    assert lint.returncode == 0 and "denies every exchange" in lint.stdout, lint.stderr
    claims = tmp_path / "claims.json"
    claims.write_text(json.dumps({"sub": "repo:acme/infra:ref:refs/heads/main", "aud": AUD}))
    sim = _cli("simulate", "--policies", str(path), "--claims", str(claims))
    assert sim.returncode == 1 and "DENIED" in sim.stdout and "denies every exchange" in sim.stdout, sim.stderr


@pytest.mark.parametrize("raw", list(VARIANTS.values()), ids=list(VARIANTS))
def test_create_and_the_emulator_keep_exact_recognition(raw):
    assert model.denies_everything(raw) and not model.is_service_default(raw)
    refusal = issuer_policy.takeover_refusal({"policies": raw, "version": 2}, organization=ORG, issuer_id="i1", desired=[], adopt=False)
    assert refusal is not None and "already holds a policy document" in refusal
    assert model.is_service_default(EXACT_DEFAULT)
    assert issuer_policy.takeover_refusal({"policies": EXACT_DEFAULT, "version": 1}, organization=ORG, issuer_id="i1", desired=[], adopt=False) is None


def test_a_document_with_an_allow_the_model_refuses_stays_unreadable():
    raw = [{"decision": "deny", "tokenType": "organization", "rules": {"sub": ""}}, team({"sub": "*"})]
    assert not model.denies_everything(raw)
    with pytest.raises(model.PolicyError):
        model.read_document(raw)
    kind, _doc, problem = audit.classify(ORG, {"policies": raw})
    assert kind == audit.UNREADABLE and "no literal part" in problem


def test_a_readable_deny_only_document_is_read_policy_by_policy():
    raw = [deny({"sub": "repo:acme/infra:pull_request"})]
    document = model.read_document(raw)
    assert not document.service_default and len(document.policies) == 1
