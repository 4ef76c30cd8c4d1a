"""The policy model: wire mapping, validation, the wildcard matcher, claim paths, evaluation."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pulumi_oidc_trust.provider import policy as m

# ------------------------------------------------------------------------------ wire mapping


def test_snake_and_wire_forms_read_the_same_policy():
    wire = {
        "decision": "allow",
        "tokenType": "team",
        "teamName": "platform",
        "authorizedPermissions": None,
        "rules": {"aud": "urn:pulumi:org:acme", "sub": "repo:acme/infra:*"},
    }
    snake = {"decision": "allow", "token_type": "team", "team_name": "platform", "rules": dict(wire["rules"])}
    assert m.parse_policy(wire) == m.parse_policy(snake)


def test_wire_form_uses_the_api_spelling_and_always_lists_permissions():
    p = m.parse_policy({"decision": "allow", "token_type": "runner", "runner_id": "r1", "rules": {"sub": "x*"}})
    wire = p.to_wire()
    assert wire == {
        "decision": "allow",
        "tokenType": "runner",
        "runnerID": "r1",
        "authorizedPermissions": [],
        "rules": {"sub": "x*"},
    }
    assert m.parse_policy(wire) == p


def test_role_id_round_trips_with_capital_id():
    p = m.parse_policy({"decision": "allow", "tokenType": "organization", "roleID": "role-1", "rules": {"sub": "a"}})
    assert p.to_wire()["roleID"] == "role-1"
    assert p.to_python()["role_id"] == "role-1"


# ------------------------------------------------------------------------------ validation


def problems_of(raw):
    with pytest.raises(m.PolicyError) as e:
        m.parse_policies(raw)
    return dict(e.value.problems)


@pytest.mark.parametrize(
    "policy, prop, words",
    [
        ({"decision": "maybe", "token_type": "organization", "rules": {"sub": "a"}}, "policies[0].decision", "allow"),
        ({"decision": "allow", "token_type": "robot", "rules": {"sub": "a"}}, "policies[0].token_type", "organization"),
        ({"decision": "allow", "token_type": "team", "rules": {"sub": "a"}}, "policies[0].team_name", "required"),
        ({"decision": "allow", "token_type": "personal", "rules": {"sub": "a"}}, "policies[0].user_login", "required"),
        ({"decision": "allow", "token_type": "runner", "rules": {"sub": "a"}}, "policies[0].runner_id", "required"),
        ({"decision": "allow", "token_type": "organization", "team_name": "x", "rules": {"sub": "a"}}, "policies[0].team_name", "remove"),
        ({"decision": "allow", "token_type": "team", "team_name": "t", "authorized_permissions": ["admin"], "rules": {"sub": "a"}}, "policies[0].authorized_permissions", "only organization"),
        ({"decision": "allow", "token_type": "organization", "authorized_permissions": ["root"], "rules": {"sub": "a"}}, "policies[0].authorized_permissions", "unknown permission"),
        ({"decision": "allow", "token_type": "organization", "rules": {}}, "policies[0].rules", "at least one"),
        ({"decision": "allow", "token_type": "organization", "rules": {"sub": "*"}}, "policies[0].rules.sub", "no literal part"),
        ({"decision": "allow", "token_type": "organization", "rules": {"sub": "..?*"}}, "policies[0].rules.sub", "no literal part"),
        ({"decision": "allow", "token_type": "organization", "rules": {"sub": ""}}, "policies[0].rules.sub", "no literal part"),
        ({"decision": "allow", "token_type": "organization", "rules": {"sub": 5}}, "policies[0].rules.sub", "string"),
        ({"decision": "allow", "token_type": "organization", "rules": {'"kubernetes.io.pod': "a"}}, "policies[0].rules", "unclosed quote"),
        ({"decision": "allow", "token_type": "organization", "rules": {"sub": "a"}, "teamname": "x"}, "policies[0].teamname", "unknown key"),
    ],
)
def test_each_bad_field_is_named_with_the_fix(policy, prop, words):
    problems = problems_of([policy])
    assert prop in problems, problems
    assert words in problems[prop]


def test_empty_list_and_more_than_40_are_refused():
    assert "at least one" in problems_of([])["policies"]
    many = [{"decision": "deny", "token_type": "organization", "rules": {"sub": f"s{i}"}} for i in range(41)]
    assert "at most 40" in problems_of(many)["policies"]
    assert len(m.parse_policies(many[:40])) == 40


def test_closed_document_is_a_valid_deny_pinned_to_the_organization():
    closed = m.closed_policies("acme")
    (p,) = m.parse_policies(closed)
    assert p.decision == "deny" and p.token_type == "organization"
    assert p.rules == {"aud": "urn:pulumi:org:acme"}
    assert closed[0]["authorizedPermissions"] == []


# ------------------------------------------------------------------------------ the matcher


def reference_match(pattern: str, value: str) -> bool:
    """An independent recursive reading of Pulumi's documented wildcards."""
    if not pattern:
        return not value
    head, rest = pattern[0], pattern[1:]
    if head == "*":
        return any(reference_match(rest, value[i:]) for i in range(len(value) + 1))
    if head == "?":
        return reference_match(rest, value) or (bool(value) and reference_match(rest, value[1:]))
    if head == ".":
        return bool(value) and reference_match(rest, value[1:])
    return bool(value) and value[0] == head and reference_match(rest, value[1:])


ALPHABET = st.sampled_from(list("ab:/.*?-\n[]()\\+"))
patterns = st.text(ALPHABET, max_size=8)
values = st.text(st.sampled_from(list("ab:/.-\n*?[")), max_size=8)


@settings(max_examples=400, deadline=None)
@given(patterns, values)
def test_matcher_agrees_with_the_documented_semantics(pattern, value):
    assert m.match(pattern, value) == reference_match(pattern, value)


@given(st.text(st.characters(blacklist_characters="*?."), max_size=20))
def test_a_pattern_without_wildcards_matches_only_itself(text):
    assert m.match(text, text)
    assert not m.match(text, text + "x")
    assert not m.match(text + "x", text)


@given(st.text(max_size=20), st.text(max_size=20))
def test_star_suffix_matches_every_extension(prefix, rest):
    literal = re.sub(r"[*?.]", "", prefix)
    assert m.match(literal + "*", literal + rest)


@given(st.text(st.characters(blacklist_characters="\n"), min_size=1, max_size=1))
def test_dot_is_exactly_one_character_and_question_mark_zero_or_one(c):
    assert m.match("a.b", f"a{c}b")
    assert not m.match("a.b", "ab")
    assert m.match("a?b", "ab") and m.match("a?b", f"a{c}b")
    assert not m.match("a?b", f"a{c}{c}b")


def test_literal_dot_in_a_pattern_matches_any_character():
    # Pulumi's documented `.` wildcard: the linter warns about this footgun.
    assert m.match("repo:acme/my.repo:*", "repo:acme/myXrepo:ref")


# ------------------------------------------------------------------------------ claim paths


@pytest.mark.parametrize(
    "path, segments",
    [
        ("sub", ("sub",)),
        ("a.b.c", ("a", "b", "c")),
        ('"kubernetes.io".pod.name', ("kubernetes.io", "pod", "name")),
        ('x."a.b"', ("x", "a.b")),
        ('"a.b"', ("a.b",)),
    ],
)
def test_claim_paths_split_on_unquoted_dots(path, segments):
    assert m.parse_claim_path(path) == segments


@pytest.mark.parametrize("path", ["", "a.", ".a", "a..b", '"a', 'a"b"', '"a"b'])
def test_malformed_claim_paths_are_refused(path):
    with pytest.raises(ValueError):
        m.parse_claim_path(path)


def test_nested_claims_resolve_and_missing_ones_do_not():
    claims = {"kubernetes.io": {"pod": {"name": "job-1"}}, "sub": "s"}
    assert m.resolve_claim(claims, '"kubernetes.io".pod.name') == "job-1"
    assert not m.claim_present(m.resolve_claim(claims, "kubernetes.io.pod.name"))
    assert not m.claim_present(m.resolve_claim(claims, "sub.x"))


# ------------------------------------------------------------------------------ evaluation


def P(decision, rules, token_type="organization", **names):
    return m.parse_policy({"decision": decision, "token_type": token_type, "rules": rules, **names})


ORG = m.Request("organization")


def test_nothing_matching_is_a_deny_and_every_policy_is_explained():
    d = m.evaluate([P("allow", {"sub": "repo:acme/*"})], {"sub": "repo:evil/x"}, ORG)
    assert not d.allowed and d.policy_index is None
    assert "does not match" in d.outcomes[0].reasons[0]


def test_rules_of_one_policy_are_anded():
    pol = [P("allow", {"sub": "repo:acme/*", "aud": "urn:pulumi:org:acme"})]
    assert m.evaluate(pol, {"sub": "repo:acme/x", "aud": "urn:pulumi:org:acme"}, ORG).allowed
    d = m.evaluate(pol, {"sub": "repo:acme/x", "aud": "other"}, ORG)
    assert not d.allowed and any("aud" in r for r in d.outcomes[0].reasons)


def test_a_matching_deny_wins_over_an_earlier_allow():
    pol = [P("allow", {"sub": "repo:acme/*"}), P("deny", {"sub": "repo:acme/*:pull_request"})]
    d = m.evaluate(pol, {"sub": "repo:acme/x:pull_request"}, ORG)
    assert not d.allowed and d.policy_index == 1
    assert m.evaluate(pol, {"sub": "repo:acme/x:ref:main"}, ORG).policy_index == 0


def test_first_matching_allow_decides():
    pol = [P("allow", {"sub": "a*"}), P("allow", {"sub": "ab*"})]
    assert m.evaluate(pol, {"sub": "abc"}, ORG).policy_index == 0


def test_token_type_and_name_must_fit_the_request():
    pol = [P("allow", {"sub": "s"}, "team", team_name="plat*")]
    assert m.evaluate(pol, {"sub": "s"}, m.Request("team", "platform")).allowed
    assert not m.evaluate(pol, {"sub": "s"}, m.Request("team", "security")).allowed
    d = m.evaluate(pol, {"sub": "s"}, ORG)
    assert not d.allowed and "token type" in d.outcomes[0].reasons[0]


def test_admin_scope_needs_an_admin_policy():
    plain = [P("allow", {"sub": "s"})]
    admin = [m.parse_policy({"decision": "allow", "token_type": "organization", "authorized_permissions": ["admin"], "rules": {"sub": "s"}})]
    req = m.Request.from_scope("organization", "admin")
    assert not m.evaluate(plain, {"sub": "s"}, req).allowed
    assert m.evaluate(admin, {"sub": "s"}, req).allowed


def test_list_claims_match_any_element_and_scalars_compare_as_json():
    pol = [P("allow", {"aud": "urn:pulumi:org:acme", "repository_owner_id": "42", "ref_protected": "true"})]
    claims = {"aud": ["x", "urn:pulumi:org:acme"], "repository_owner_id": 42, "ref_protected": True}
    assert m.evaluate(pol, claims, ORG).allowed


@pytest.mark.parametrize(
    "token_type, scope, expected",
    [
        ("organization", "", ("organization", None, False)),
        ("organization", "admin", ("organization", None, True)),
        ("team", "team:platform", ("team", "platform", False)),
        ("personal", "user:alice", ("personal", "alice", False)),
        ("runner", "runner:r1", ("runner", "r1", False)),
    ],
)
def test_scopes_read_as_requests(token_type, scope, expected):
    r = m.Request.from_scope(token_type, scope)
    assert (r.token_type, r.name, r.admin) == expected
    assert r.scope == scope


@pytest.mark.parametrize("token_type, scope", [("team", ""), ("team", "user:x"), ("organization", "team:x"), ("robot", "")])
def test_bad_scopes_are_refused(token_type, scope):
    with pytest.raises(ValueError):
        m.Request.from_scope(token_type, scope)


@pytest.mark.parametrize(
    "claims, request_",
    [
        ({"sub": "repo:acme/x:pull_request"}, ORG),
        ({"sub": "repo:acme/x:ref:main"}, ORG),
        ({"sub": "other"}, ORG),
        ({"sub": "repo:acme/x:ref:main"}, m.Request("team", "platform")),
        ({}, ORG),
    ],
)
def test_decide_is_evaluate_without_the_explanations(claims, request_):
    pol = [P("allow", {"sub": "repo:acme/*"}), P("deny", {"sub": "repo:acme/*:pull_request"}),
           P("allow", {"sub": "repo:*"}, "team", team_name="plat*")]
    d = m.evaluate(pol, claims, request_)
    assert m.decide(pol, claims, request_) == (d.policy_index if d.allowed else None)
