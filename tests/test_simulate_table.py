"""A table of (policy set, claims, request) -> decision and reason, decided by the simulator and,
for every case that can be expressed as an exchange, by the emulator as well."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest

from pulumi_oidc_trust.emulator.store import token_hash
from pulumi_oidc_trust.provider.policy import parse_policies
from pulumi_oidc_trust.provider.simulate import build_request, simulate
from pulumi_oidc_trust.provider.wire import audience_for


def allow(rules: dict[str, str], token_type: str = "organization", **fields: Any) -> dict[str, Any]:
    return {"decision": "allow", "tokenType": token_type, "rules": rules, **fields}


def deny(rules: dict[str, str], token_type: str = "organization", **fields: Any) -> dict[str, Any]:
    return {"decision": "deny", "tokenType": token_type, "rules": rules, **fields}


# Each policy set lives in its own organization (its aud).
SETS: dict[str, list[dict[str, Any]]] = {
    "gh": [
        deny({"aud": audience_for("gh"), "sub": "repo:acme/infra:pull_request"}),
        allow({"aud": audience_for("gh"), "repository_owner_id": "4242", "sub": "repo:acme/infra:*"}),
        allow({"aud": audience_for("gh"), "sub": "repo:acme/infra:ref:refs/heads/main"}, "team", teamName="plat*"),
        allow({"aud": audience_for("gh"), "sub": "repo:acme/app:*"}, "personal", userLogin="alice"),
        allow({"aud": audience_for("gh"), "sub": "repo:acme/infra:environment:production"}, authorizedPermissions=["admin"]),
    ],
    "match": [
        allow({"a": "x*y"}),
        allow({"b": "a?c"}),
        allow({"c": "a.c"}),
        allow({"d": "v1.2"}),
        allow({"e": "*-prod"}),
        allow({"f": "true"}),
        allow({"g": "123"}),
    ],
    "nested": [
        allow({'"kubernetes.io".namespace': "ci", '"kubernetes.io".serviceaccount.name': "runner"}),
        allow({"x.y": "deep"}),
        allow({'"a.b"': "flat"}),
    ],
    "aud": [
        allow({"aud": audience_for("aud"), "sub": "svc"}),
    ],
    "order": [
        allow({"sub": "svc-*"}),
        allow({"sub": "svc-a"}, roleID="role-a"),
        deny({"sub": "svc-b*"}),
        allow({"sub": "svc-*"}, "team", teamName="*s"),
        deny({"sub": "svc*"}, "team", teamName="blocked*"),
    ],
    "teams": [
        allow({"sub": "w"}, "team", teamName="eng-*"),
        allow({"sub": "w"}, "team", teamName="ops?"),
        allow({"sub": "w"}, "team", teamName="q.a"),
        allow({"sub": "w"}, "personal", userLogin="alice"),
        allow({"sub": "w"}, "personal", userLogin="bot-*"),
        allow({"sub": "w"}, "runner", runnerID="runner-1"),
    ],
    "admin": [
        allow({"sub": "ci"}),
        allow({"sub": "ci-admin"}, authorizedPermissions=["admin"]),
        deny({"sub": "ci-admin", "env": "dev"}),
    ],
}


@dataclass(frozen=True)
class Case:
    label: str
    set: str
    claims: dict[str, Any]
    allowed: bool
    index: int | None
    reason: str
    """A substring of the simulator's explanation (summary or any policy's reasons)."""
    token_type: str | None = None
    team: str | None = None
    user: str | None = None
    runner: str | None = None
    admin: bool = False
    simulator_only: str | None = None
    """Why the case cannot be an exchange (then only the simulator decides it)."""

    def full_claims(self) -> dict[str, Any]:
        """The claims as a token would carry them: aud for the set's organization and a sub
        (the service requires both) unless the case says otherwise; None removes a claim."""
        claims: dict[str, Any] = {"aud": audience_for(self.set), "sub": "workload"}
        claims.update(self.claims)
        return {k: v for k, v in claims.items() if v is not None}

    def request(self):
        return build_request(self.token_type, team=self.team, user=self.user, runner=self.runner, admin=self.admin)


GH_MAIN = {"sub": "repo:acme/infra:ref:refs/heads/main", "repository_owner_id": "4242"}

CASES = [
    # -- a GitHub-style policy set: deny-over-allow, first allow, names, admin ------------------
    Case("gh org from main", "gh", GH_MAIN, True, 1, "allowed by policy 1"),
    Case("gh numeric owner id claim", "gh", GH_MAIN | {"repository_owner_id": 4242}, True, 1, "claim repository_owner_id matches '4242'"),
    Case("gh pull_request denied by deny", "gh", GH_MAIN | {"sub": "repo:acme/infra:pull_request"}, False, 0, "denied by policy 0"),
    Case("gh owner id missing", "gh", {"sub": "repo:acme/infra:ref:refs/heads/main"}, False, None, "claim repository_owner_id is missing"),
    Case("gh owner id other", "gh", GH_MAIN | {"repository_owner_id": "4243"}, False, None, "repository_owner_id='4243' does not match '4242'"),
    Case("gh '*' matches an empty context", "gh", GH_MAIN | {"sub": "repo:acme/infra:"}, True, 1, "allowed by policy 1"),
    Case("gh other repo", "gh", GH_MAIN | {"sub": "repo:acme/other:ref:refs/heads/main"}, False, None, "does not match 'repo:acme/infra:*'"),
    Case("gh admin from production", "gh", GH_MAIN | {"sub": "repo:acme/infra:environment:production"}, True, 4, "allowed by policy 4", admin=True),
    Case("gh admin refused to main", "gh", GH_MAIN, False, None, "does not authorize 'admin'", admin=True),
    Case("gh team platform", "gh", GH_MAIN, True, 2, "allowed by policy 2", team="platform"),
    Case("gh team 'plat' ('*' empty)", "gh", GH_MAIN, True, 2, "allowed by policy 2", team="plat"),
    Case("gh team ops", "gh", GH_MAIN, False, None, "the requested team 'ops' does not match team_name 'plat*'", team="ops"),
    Case("gh personal alice", "gh", {"sub": "repo:acme/app:ref:refs/heads/x"}, True, 3, "allowed by policy 3", user="alice"),
    Case("gh personal bob", "gh", {"sub": "repo:acme/app:ref:refs/heads/x"}, False, None, "the requested user login 'bob' does not match user_login 'alice'", user="bob"),
    Case("gh runner: no runner policy", "gh", GH_MAIN, False, None, "is not the requested 'runner'", runner="r1"),
    Case("gh team from a PR (org deny does not apply)", "gh", GH_MAIN | {"sub": "repo:acme/infra:pull_request"}, False, None, "does not match 'repo:acme/infra:ref:refs/heads/main'", team="platform"),
    # -- the wildcard matcher ------------------------------------------------------------------
    Case("'*' empty", "match", {"a": "xy"}, True, 0, "claim a matches 'x*y'"),
    Case("'*' many", "match", {"a": "xzzzy"}, True, 0, "claim a matches"),
    Case("'*' crosses / : @", "match", {"a": "x/y:z@y"}, True, 0, "claim a matches"),
    Case("'*' needs the suffix", "match", {"a": "xz"}, False, None, "a='xz' does not match 'x*y'"),
    Case("'?' zero characters", "match", {"b": "ac"}, True, 1, "claim b matches 'a?c'"),
    Case("'?' one character", "match", {"b": "abc"}, True, 1, "claim b matches"),
    Case("'?' not two", "match", {"b": "abbc"}, False, None, "b='abbc' does not match 'a?c'"),
    Case("'.' exactly one", "match", {"c": "abc"}, True, 2, "claim c matches 'a.c'"),
    Case("'.' not zero", "match", {"c": "ac"}, False, None, "c='ac' does not match 'a.c'"),
    Case("'.' not two", "match", {"c": "abbc"}, False, None, "does not match 'a.c'"),
    Case("'.' matches a dot", "match", {"c": "a.c"}, True, 2, "claim c matches"),
    Case("literal-looking dot, exact", "match", {"d": "v1.2"}, True, 3, "claim d matches 'v1.2'"),
    Case("literal-looking dot matches any char", "match", {"d": "v1x2"}, True, 3, "claim d matches 'v1.2'"),
    Case("literal-looking dot needs a char", "match", {"d": "v12"}, False, None, "d='v12' does not match"),
    Case("leading '*' empty", "match", {"e": "-prod"}, True, 4, "claim e matches '*-prod'"),
    Case("leading '*'", "match", {"e": "eu-prod"}, True, 4, "claim e matches"),
    Case("whole value matched", "match", {"e": "eu-prod-x"}, False, None, "does not match '*-prod'"),
    Case("bool claim true", "match", {"f": True}, True, 5, "claim f matches 'true'"),
    Case("string 'true'", "match", {"f": "true"}, True, 5, "claim f matches 'true'"),
    Case("bool claim false", "match", {"f": False}, False, None, "f='false' does not match 'true'"),
    Case("number claim", "match", {"g": 123}, True, 6, "claim g matches '123'"),
    Case("numeric string", "match", {"g": "123"}, True, 6, "claim g matches"),
    Case("other number", "match", {"g": 1234}, False, None, "g='1234' does not match"),
    Case("float is not the integer", "match", {"g": 123.5}, False, None, "does not match '123'"),
    Case("list claim: any element", "match", {"a": ["q", "xay"]}, True, 0, "claim a matches"),
    Case("list claim: no element", "match", {"a": ["q", "r"]}, False, None, "does not match 'x*y'"),
    Case("empty list never matches", "match", {"a": []}, False, None, "does not match 'x*y'"),
    Case("object never matches", "match", {"a": {"k": "xy"}}, False, None, "does not match 'x*y'"),
    Case("no claim at all", "match", {}, False, None, "claim a is missing"),
    Case("first matching allow wins", "match", {"a": "xy", "b": "ac"}, True, 0, "allowed by policy 0"),
    Case("case matters", "match", {"a": "XY"}, False, None, "does not match 'x*y'"),
    # -- claim paths -----------------------------------------------------------------------------
    Case("quoted segment path", "nested", {"kubernetes.io": {"namespace": "ci", "serviceaccount": {"name": "runner"}}}, True, 0, 'claim "kubernetes.io".namespace matches'),
    Case("nested value differs", "nested", {"kubernetes.io": {"namespace": "cd", "serviceaccount": {"name": "runner"}}}, False, None, "does not match 'ci'"),
    Case("nested claim missing", "nested", {"kubernetes.io": {"namespace": "ci"}}, False, None, '"kubernetes.io".serviceaccount.name is missing'),
    Case("parent is a string", "nested", {"kubernetes.io": "ci"}, False, None, '"kubernetes.io".namespace is missing'),
    Case("unquoted dots are a path", "nested", {"x": {"y": "deep"}}, True, 1, "claim x.y matches 'deep'"),
    Case("a flat key with a dot is not x.y", "nested", {"x.y": "deep"}, False, None, "claim x.y is missing"),
    Case("quoted key with a dot", "nested", {"a.b": "flat"}, True, 2, "allowed by policy 2"),
    Case("quoted key is not a path", "nested", {"a": {"b": "flat"}}, False, None, 'claim "a.b" is missing'),
    # -- aud -------------------------------------------------------------------------------------
    Case("aud list containing the audience", "aud", {"aud": ["other", audience_for("aud")], "sub": "svc"}, True, 0, "claim aud matches"),
    Case("aud string", "aud", {"sub": "svc"}, True, 0, "allowed by policy 0"),
    Case("aud missing", "aud", {"aud": None, "sub": "svc"}, False, None, "claim aud is missing",
         simulator_only="the service refuses a token without aud before any policy"),
    Case("aud of another relying party", "aud", {"aud": "sts.amazonaws.com", "sub": "svc"}, False, None, "does not match 'urn:pulumi:org:aud'",
         simulator_only="the service refuses a token whose aud is not the requested audience before any policy"),
    # -- precedence ------------------------------------------------------------------------------
    Case("first allow wins over a later narrower allow", "order", {"sub": "svc-a"}, True, 0, "allowed by policy 0"),
    Case("a later deny beats an earlier allow", "order", {"sub": "svc-b"}, False, 2, "denied by policy 2"),
    Case("deny with '*'", "order", {"sub": "svc-bee"}, False, 2, "denied by policy 2"),
    Case("org deny does not touch team tokens", "order", {"sub": "svc-b"}, True, 3, "allowed by policy 3", team="devs"),
    Case("team deny by name wildcard", "order", {"sub": "svc-c"}, False, 4, "denied by policy 4", team="blockedteams"),
    Case("team name must match the allow", "order", {"sub": "svc-c"}, False, None, "the requested team 'dev' does not match team_name '*s'", team="dev"),
    Case("nothing matches", "order", {"sub": "other"}, False, None, "denied: no policy matched"),
    Case("missing sub", "order", {"sub": None}, False, None, "claim sub is missing",
         simulator_only="the service refuses a token without sub before any policy"),
    # -- team, personal and runner names ---------------------------------------------------------
    Case("team eng-*", "teams", {"sub": "w"}, True, 0, "allowed by policy 0", team="eng-web"),
    Case("team eng- ('*' empty)", "teams", {"sub": "w"}, True, 0, "allowed by policy 0", team="eng-"),
    Case("team eng", "teams", {"sub": "w"}, False, None, "the requested team 'eng' does not match team_name 'eng-*'", team="eng"),
    Case("team ops ('?' zero)", "teams", {"sub": "w"}, True, 1, "allowed by policy 1", team="ops"),
    Case("team ops2 ('?' one)", "teams", {"sub": "w"}, True, 1, "allowed by policy 1", team="ops2"),
    Case("team ops22", "teams", {"sub": "w"}, False, None, "the requested team 'ops22' does not match team_name 'ops?'", team="ops22"),
    Case("team qxa ('.' one)", "teams", {"sub": "w"}, True, 2, "allowed by policy 2", team="qxa"),
    Case("team qa", "teams", {"sub": "w"}, False, None, "the requested team 'qa' does not match team_name 'q.a'", team="qa"),
    Case("personal alice", "teams", {"sub": "w"}, True, 3, "allowed by policy 3", user="alice"),
    Case("personal alicia", "teams", {"sub": "w"}, False, None, "the requested user login 'alicia' does not match user_login 'alice'", user="alicia"),
    Case("personal bot-7", "teams", {"sub": "w"}, True, 4, "allowed by policy 4", user="bot-7"),
    Case("runner runner-1", "teams", {"sub": "w"}, True, 5, "allowed by policy 5", runner="runner-1"),
    Case("runner runner-2", "teams", {"sub": "w"}, False, None, "the requested runner 'runner-2' does not match runner_id 'runner-1'", runner="runner-2"),
    Case("organization token: no org policy", "teams", {"sub": "w"}, False, None, "is not the requested 'organization'"),
    Case("right name, wrong claims", "teams", {"sub": "v"}, False, None, "sub='v' does not match 'w'", team="eng-web"),
    # -- admin scope -----------------------------------------------------------------------------
    Case("plain org token", "admin", {"sub": "ci"}, True, 0, "allowed by policy 0"),
    Case("admin not authorized", "admin", {"sub": "ci"}, False, None, "does not authorize 'admin'", admin=True),
    Case("admin authorized", "admin", {"sub": "ci-admin"}, True, 1, "allowed by policy 1", admin=True),
    Case("admin policy serves plain requests too", "admin", {"sub": "ci-admin"}, True, 1, "allowed by policy 1"),
    Case("deny applies to admin requests", "admin", {"sub": "ci-admin", "env": "dev"}, False, 2, "denied by policy 2", admin=True),
]


def _explanation(decision) -> str:
    return "\n".join([decision.summary] + [r for o in decision.outcomes for r in o.reasons])


def test_the_table_is_large_enough():
    assert len(CASES) >= 60
    assert len({c.label for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_simulator(case: Case):
    decision = simulate(parse_policies(SETS[case.set]), case.full_claims(), case.request())
    assert (decision.allowed, decision.policy_index) == (case.allowed, case.index), decision.summary
    assert case.reason in _explanation(decision)


def _emulator_decision(emu, token: str, org: str, request) -> tuple[bool, int | None]:
    """(allowed, deciding policy index) as the emulator decided the exchange."""
    response = emu.exchange(token, org, token_type=request.token_type, scope=request.scope)
    if response.status_code == 200:
        with emu.app.store.reading() as state:
            record = state.tokens[token_hash(response.json()["access_token"])]
        return True, record["policyIndex"]
    body = response.json()
    assert (response.status_code, body.get("error")) == (400, "invalid_grant"), body
    found = re.search(r"denied by policy (\d+)", body.get("error_description", ""))
    return False, int(found.group(1)) if found else None


def test_emulator_decides_every_case_like_the_simulator(inproc_emulator):
    """One exchange per case: the test issuer registered in the set's organization, the set
    PATCHed as its policies, a token minted with the case's claims."""
    emu = inproc_emulator
    for name, policies in SETS.items():
        issuer = emu.register_issuer(name)
        emu.set_policies(issuer["id"], [p.to_wire() for p in parse_policies(policies)], name)
    checked = 0
    for case in CASES:
        if case.simulator_only:
            continue
        request = case.request()
        simulated = simulate(parse_policies(SETS[case.set]), case.full_claims(), request)
        token = emu.test_issuer.mint(case.full_claims())
        emulated = _emulator_decision(emu, token, case.set, request)
        assert emulated == (simulated.allowed, simulated.policy_index), case.label
        checked += 1
    assert checked >= 60
