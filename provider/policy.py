"""The authorization-policy model: one place for what a Pulumi Cloud OIDC policy means.

Used by the dynamic provider's ``check``, by the emulator when it decides an exchange, and by
the simulator and the linter. Everything here is pure: plain data in, plain data out.

What Pulumi documents, and what this module decides where Pulumi is silent (the one place
those choices are written down):

* Claim values and team scopes support wildcards: ``*`` zero or more characters, ``?`` zero or
  one character, ``.`` exactly one character (documented). A literal dot therefore matches any
  character; there is no documented escape, so none is offered here.
* A claim path is dot-separated; a segment that itself contains dots is double-quoted:
  ``"kubernetes.io".pod.name`` (documented).
* The rules of one policy are ANDed; a claim that is missing never matches (our model).
* A claim that is a list (``aud`` may be) matches when any element matches; numbers and booleans
  are compared in their JSON spelling (``123``, ``true``); objects never match (our model).
* Precedence between policies (our model): a policy applies to a request when its token type is
  the requested one and, for team, personal and runner tokens, its name pattern matches the
  requested name. Any applicable deny whose rules match wins; otherwise the first applicable
  allow whose rules match decides; nothing matching is a deny.
* An organization token requested with scope ``admin`` needs a policy that lists ``admin`` in
  ``authorizedPermissions`` (documented by the API spec for the old permission model).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterable, Mapping, Sequence

MAX_POLICIES = 40
"""Pulumi Cloud accepts at most 40 policies per issuer."""

# Size limits of this project (Pulumi documents none): generous for every real workload token
# and policy, small enough that no input makes matching or linting slow.
MAX_CLAIM_LENGTH = 1024
"""Characters in one string claim of a workload token (a GitHub ``job_workflow_ref`` or a
Kubernetes ``sub`` stay well below). Longer claims are refused where tokens enter: the
emulator's exchange and the simulator."""
MAX_RULES_PER_POLICY = 32
"""Rules (claim path -> pattern) in one policy."""
MAX_PATTERN_LENGTH = 1024
"""Characters in one rule pattern or name pattern; a longer pattern could only match a claim
that is refused anyway."""

DECISIONS = ("allow", "deny")
PERMISSIONS = ("admin", "standard")
WILDCARDS = frozenset("*?.")
WIDE_WILDCARDS = frozenset("*?")
"""The wildcards that change the length of what matches (``.`` stands for exactly one character)."""

TOKEN_TYPE_URN_PREFIX = "urn:pulumi:token-type:access_token:"


@dataclass(frozen=True)
class TokenType:
    """One row of the token-type table."""

    name: str
    name_field: str | None
    """The snake_case policy field naming who the token is for (None: organization tokens)."""
    scope_prefix: str | None
    """How the exchange's ``scope`` names the team, user or runner (``team:NAME``)."""

    @property
    def urn(self) -> str:
        return TOKEN_TYPE_URN_PREFIX + self.name


TOKEN_TYPES: dict[str, TokenType] = {
    t.name: t
    for t in (
        TokenType("organization", None, None),
        TokenType("team", "team_name", "team:"),
        TokenType("personal", "user_login", "user:"),
        TokenType("runner", "runner_id", "runner:"),
    )
}
"""The token-type table: the one place that says which name field and scope each type uses."""

# snake_case (Python) -> wire (Pulumi Cloud API). The one wire-key mapping.
WIRE_KEYS: dict[str, str] = {
    "decision": "decision",
    "token_type": "tokenType",
    "team_name": "teamName",
    "user_login": "userLogin",
    "runner_id": "runnerID",
    "role_id": "roleID",
    "authorized_permissions": "authorizedPermissions",
    "rules": "rules",
}
PYTHON_KEYS: dict[str, str] = {v: k for k, v in WIRE_KEYS.items()}
NAME_FIELDS = tuple(t.name_field for t in TOKEN_TYPES.values() if t.name_field)


class PolicyError(ValueError):
    """A policy document is malformed. ``problems`` lists (property path, message) pairs."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{p}: {m}" for p, m in problems))


@dataclass(frozen=True)
class Policy:
    """One authorization policy, in Python terms (snake_case)."""

    decision: str
    token_type: str
    rules: Mapping[str, str]
    team_name: str | None = None
    user_login: str | None = None
    runner_id: str | None = None
    role_id: str | None = None
    authorized_permissions: tuple[str, ...] = ()

    @property
    def name_pattern(self) -> str | None:
        """The team/user/runner name this policy is for, or None for organization tokens."""
        name_field = TOKEN_TYPES[self.token_type].name_field
        return getattr(self, name_field) if name_field else None

    def to_wire(self) -> dict[str, Any]:
        """The API's JSON form. ``authorizedPermissions`` is always a list; unset names are omitted."""
        wire: dict[str, Any] = {}
        for key, wire_key in WIRE_KEYS.items():
            value = getattr(self, key)
            if key == "authorized_permissions":
                wire[wire_key] = list(value)
            elif key == "rules":
                wire[wire_key] = dict(value)
            elif value is not None:
                wire[wire_key] = value
        return wire

    def to_python(self) -> dict[str, Any]:
        """The snake_case form used by the Pulumi resources (unset names omitted)."""
        out = {k: v for k, v in dataclasses.asdict(self).items() if v is not None}
        out["authorized_permissions"] = list(self.authorized_permissions)
        out["rules"] = dict(self.rules)
        return out


# ---------------------------------------------------------------------------------------------
# Reading and validating policy documents


def _normalize_keys(raw: Mapping[str, Any], where: str) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Accept either wire keys or snake_case keys; report unknown keys, and a key given in both
    spellings (``authorized_permissions`` and ``authorizedPermissions``): which one would be sent
    depends on dict order, so neither is guessed."""
    out: dict[str, Any] = {}
    spelled: dict[str, str] = {}
    problems: list[tuple[str, str]] = []
    for key, value in raw.items():
        py_key = PYTHON_KEYS.get(key, key)
        if py_key not in WIRE_KEYS:
            known = ", ".join(WIRE_KEYS)
            problems.append((f"{where}.{key}", f"unknown key; a policy takes only: {known}"))
            continue
        if py_key in spelled:
            problems.append(
                (f"{where}.{py_key}", f"given twice, as {spelled[py_key]!r} and {key!r}; keep exactly one of them")
            )
            continue
        spelled[py_key] = key
        out[py_key] = value
    return out, problems


def parse_policy(raw: Mapping[str, Any], where: str = "policies[0]") -> Policy:
    """Build a Policy from a dict in wire form (``tokenType``) or snake_case form.

    Raises PolicyError naming each bad property (``policies[2].team_name``) and the fix.
    """
    if not isinstance(raw, Mapping):
        raise PolicyError([(where, "must be an object with decision, token_type and rules")])
    data, problems = _normalize_keys(raw, where)

    decision = data.get("decision")
    if decision not in DECISIONS:
        problems.append((f"{where}.decision", f"must be 'allow' or 'deny', got {decision!r}"))

    token_type = data.get("token_type")
    if token_type not in TOKEN_TYPES:
        problems.append(
            (f"{where}.token_type", f"must be one of {', '.join(TOKEN_TYPES)}, got {token_type!r}")
        )
    else:
        problems += _check_name_fields(data, TOKEN_TYPES[token_type], where)

    permissions = data.get("authorized_permissions")
    if permissions is None:
        permissions = []
    if isinstance(permissions, str) or not isinstance(permissions, (list, tuple)):
        problems.append((f"{where}.authorized_permissions", "must be a list such as ['admin'] or []"))
        permissions = []
    for p in permissions:
        if p not in PERMISSIONS:
            problems.append(
                (f"{where}.authorized_permissions", f"unknown permission {p!r}; use 'admin' or 'standard'")
            )
    if permissions and token_type in TOKEN_TYPES and token_type != "organization":
        problems.append(
            (f"{where}.authorized_permissions", "only organization tokens take permissions; remove it")
        )
    role_id = data.get("role_id")
    if role_id is not None and token_type != "organization":
        problems.append((f"{where}.role_id", "only organization tokens take a role; remove it"))
    if role_id is not None and (not isinstance(role_id, str) or not role_id):
        problems.append((f"{where}.role_id", "must be a non-empty role id string"))

    rules = data.get("rules")
    problems += _check_rules(rules, where)

    if problems:
        raise PolicyError(problems)
    return Policy(
        decision=decision,
        token_type=token_type,
        rules=dict(rules),
        team_name=data.get("team_name"),
        user_login=data.get("user_login"),
        runner_id=data.get("runner_id"),
        role_id=role_id,
        authorized_permissions=tuple(permissions),
    )


def _check_name_fields(data: Mapping[str, Any], token_type: TokenType, where: str) -> list[tuple[str, str]]:
    problems = []
    for name_field in NAME_FIELDS:
        value = data.get(name_field)
        if name_field == token_type.name_field:
            if not isinstance(value, str) or not value.strip():
                problems.append(
                    (f"{where}.{name_field}", f"required for {token_type.name} tokens: name the {_what(name_field)}")
                )
            elif len(value) > MAX_PATTERN_LENGTH:
                problems.append(
                    (f"{where}.{name_field}", f"is {len(value)} characters long; at most {MAX_PATTERN_LENGTH} are accepted")
                )
        elif value is not None:
            problems.append(
                (f"{where}.{name_field}", f"not used by {token_type.name} tokens; remove it")
            )
    return problems


def _what(name_field: str) -> str:
    return {"team_name": "team", "user_login": "user login", "runner_id": "runner"}[name_field]


def _check_rules(rules: Any, where: str) -> list[tuple[str, str]]:
    if not isinstance(rules, Mapping) or not rules:
        return [(f"{where}.rules", "must map at least one claim path to a pattern, e.g. {'aud': 'urn:pulumi:org:acme', 'sub': 'repo:acme/infra:ref:refs/heads/main'}")]
    problems = []
    if len(rules) > MAX_RULES_PER_POLICY:
        problems.append(
            (f"{where}.rules", f"holds {len(rules)} rules; at most {MAX_RULES_PER_POLICY} are accepted per policy")
        )
    for path, pattern in rules.items():
        if isinstance(path, str) and len(path) > MAX_PATTERN_LENGTH:
            problems.append((f"{where}.rules", f"a claim path is longer than {MAX_PATTERN_LENGTH} characters"))
            continue
        if isinstance(pattern, str) and len(pattern) > MAX_PATTERN_LENGTH:
            problems.append(
                (f"{where}.rules.{path}", f"pattern is {len(pattern)} characters long; at most {MAX_PATTERN_LENGTH} are accepted")
            )
            continue
        try:
            parse_claim_path(path)
        except ValueError as e:
            problems.append((f"{where}.rules", str(e)))
        if isinstance(pattern, (int, float)) and not isinstance(pattern, bool):
            # YAML reads an unquoted id as a number; claims are compared as strings.
            problems.append((f"{where}.rules.{path}", f'is the number {pattern!r}, not a string; quote it: "{pattern}"'))
        elif not isinstance(pattern, str):
            problems.append((f"{where}.rules.{path}", f"must be a string pattern, got {type(pattern).__name__}"))
        elif not has_literal(pattern):
            problems.append(
                (
                    f"{where}.rules.{path}",
                    f"pattern {pattern!r} has no literal part (the service refuses it); "
                    "name at least part of the value, e.g. 'repo:acme/*'",
                )
            )
    return problems


def parse_policies(raw: Any, where: str = "policies") -> list[Policy]:
    """Parse an ordered list of policies; raises PolicyError listing every problem found."""
    if not isinstance(raw, (list, tuple)):
        raise PolicyError([(where, "must be a list of policies")])
    problems: list[tuple[str, str]] = []
    if not raw:
        problems.append((where, "must hold at least one policy (the service refuses an empty list)"))
    if len(raw) > MAX_POLICIES:
        problems.append((where, f"holds {len(raw)} policies; Pulumi Cloud accepts at most {MAX_POLICIES} per issuer"))
    policies = []
    for i, item in enumerate(raw):
        try:
            policies.append(parse_policy(item, f"{where}[{i}]"))
        except PolicyError as e:
            problems += e.problems
    if problems:
        raise PolicyError(problems)
    return policies


def policies_to_wire(policies: Iterable[Policy]) -> list[dict[str, Any]]:
    return [p.to_wire() for p in policies]


def closed_policies(organization: str) -> list[dict[str, Any]]:
    """CLOSED: the document that shuts an issuer. The service's own default (a deny with an empty
    ``sub``) cannot be PATCHed back, so this deny pins ``aud`` to the organization instead."""
    return [
        Policy(
            decision="deny",
            token_type="organization",
            rules={"aud": f"urn:pulumi:org:{organization}"},
        ).to_wire()
    ]


SERVICE_DEFAULT_POLICIES: tuple[dict[str, Any], ...] = (
    {"decision": "deny", "tokenType": "organization", "authorizedPermissions": [], "rules": {"sub": ""}},
)
"""What Pulumi Cloud provisions with every new issuer (as observed: its JSON is not published)."""

SERVICE_DEFAULT_MEANING = (
    "the service's default document (deny policies only, no allow): it denies every exchange "
    "until an allow policy is written"
)


def is_service_default(policies: Any) -> bool:
    """True for the service's default document as observed, byte for byte in meaning: a single
    deny whose only rule is an empty ``sub`` (whatever token type and permissions it is stored
    with). The model refuses it as a policy, since its rule has no literal part.

    Exact on purpose: ``create``'s takeover rule and the emulator use it, and recognising any
    deny-only document there would let ``create`` overwrite one. The reading tools recognise the
    default by its meaning instead (``denies_everything``, ``read_document``)."""
    if not isinstance(policies, (list, tuple)) or len(policies) != 1 or not isinstance(policies[0], Mapping):
        return False
    only = policies[0]
    return only.get("decision") == "deny" and only.get("rules") == {"sub": ""}


def denies_everything(policies: Any) -> bool:
    """True for a document of deny policies only (at least one, no allow), whatever the denies'
    patterns: with no allow, no exchange is ever allowed. This is how the reading tools (audit,
    import, ``lint --policies``, ``simulate --policies``) recognise the service's default document,
    whose JSON is not published: by what it means, not by its bytes (issue 27)."""
    return (
        isinstance(policies, (list, tuple))
        and bool(policies)
        and all(isinstance(p, Mapping) and p.get("decision") == "deny" for p in policies)
    )


def same_document(a: Any, b: Any) -> bool:
    """Do two policy documents say the same thing, in the same order? Key spelling (wire or
    snake_case) and ``authorizedPermissions`` null vs ``[]`` do not count; documents the model
    refuses are equal only when identical."""
    try:
        return policies_to_wire(parse_policies(a)) == policies_to_wire(parse_policies(b))
    except PolicyError:
        return a == b


@dataclass(frozen=True)
class Document:
    """A policy document as read from a file or a service answer."""

    policies: tuple[Policy, ...]
    service_default: bool = False
    """It is the service's default document (``policies`` is then empty: nothing can match)."""
    version: int | None = None
    """The service's ``version``, when the document is a GET answer."""


def read_document(raw: Any, where: str = "policies") -> Document:
    """Read what the service returns or a person writes: a list of policies (wire or snake_case
    keys), or an object with a ``policies`` list (the whole ``GET .../auth/policies/oidcissuers/ID``
    answer). For the reading tools only: a document the service stores must always be readable,
    so a deny-only document the model refuses (the service's default, or a variant of it) is
    recognised by its meaning (``denies_everything``), not refused; a deny-only document the model
    reads is read policy by policy. Raises PolicyError for anything else it cannot read."""
    version = None
    if isinstance(raw, Mapping) and "policies" in raw:
        version = raw.get("version") if isinstance(raw.get("version"), int) else None
        raw = raw["policies"]
    if not isinstance(raw, (list, tuple)):
        raise PolicyError([(where, "must be a list of policies, or an object with a 'policies' list")])
    try:
        return Document(tuple(parse_policies(raw, where)), version=version)
    except PolicyError:
        if denies_everything(raw):
            return Document((), service_default=True, version=version)
        raise


# ---------------------------------------------------------------------------------------------
# Matching


def has_literal(pattern: str) -> bool:
    """True when the pattern names at least one character that is not a wildcard."""
    return any(c not in WILDCARDS for c in pattern)


@dataclass(frozen=True)
class _Glob:
    """A pattern compiled for ``match``: bit ``i`` of a state set means "pattern position ``i``
    reached"; bit ``len(pattern)`` means the whole pattern was consumed."""

    star: int
    """Positions holding ``*`` (a character keeps the state there)."""
    optional: int
    """Positions that may be skipped without a character (``*`` and ``?``)."""
    any_char: int
    """Positions any one character advances (``?`` and ``.``)."""
    literal: Mapping[str, int]
    """Per literal character, the positions it advances (plus ``any_char``)."""
    accept: int

    def closure(self, states: int) -> int:
        # Skipping optional positions: inside a run of optional positions, a reached position
        # reaches every later one and the position just after the run. Adding the reached bits
        # to the run's mask carries through the rest of the run; XOR keeps exactly those bits.
        optional = self.optional
        return states | ((optional + (states & optional)) ^ optional)


@lru_cache(maxsize=4096)
def _compile(pattern: str) -> _Glob:
    star = optional = any_char = 0
    literal: dict[str, int] = {}
    for i, c in enumerate(pattern):
        bit = 1 << i
        if c == "*":
            star |= bit
            optional |= bit
        elif c == "?":
            optional |= bit
            any_char |= bit
        elif c == ".":
            any_char |= bit
        else:
            literal[c] = literal.get(c, 0) | bit
    literal = {c: bits | any_char for c, bits in literal.items()}
    return _Glob(star, optional, any_char, literal, 1 << len(pattern))


def match(pattern: str, value: str) -> bool:
    """Pulumi's wildcard match of a whole value: ``*`` 0+ chars, ``?`` 0-1 char, ``.`` exactly 1.

    A set-of-positions automaton (no backtracking): time O(len(pattern) x len(value)) whatever
    the input, so a token's claims cannot stall an exchange or a simulation.
    """
    glob = _compile(pattern)
    states = glob.closure(1)
    literal, any_char, star = glob.literal, glob.any_char, glob.star
    for c in value:
        states = glob.closure((states & star) | ((states & literal.get(c, any_char)) << 1))
        if not states:
            return False
    return bool(states & glob.accept)


@lru_cache(maxsize=4096)
def parse_claim_path(path: str) -> tuple[str, ...]:
    """Split ``"kubernetes.io".pod.name`` into ``("kubernetes.io", "pod", "name")``."""
    if not isinstance(path, str) or not path:
        raise ValueError(f"claim path {path!r} is empty; write a claim name such as 'sub'")
    segments: list[str] = []
    i, n = 0, len(path)
    while i < n:
        if path[i] == '"':
            end = path.find('"', i + 1)
            if end < 0:
                raise ValueError(f"claim path {path!r} has an unclosed quote; close it: '\"kubernetes.io\".pod.name'")
            segments.append(path[i + 1 : end])
            i = end + 1
        else:
            end = path.find(".", i)
            end = n if end < 0 else end
            segment = path[i:end]
            if '"' in segment:
                raise ValueError(f"claim path {path!r}: quote whole segments only, e.g. '\"kubernetes.io\".pod'")
            segments.append(segment)
            i = end
        if i < n:
            if path[i] != ".":
                raise ValueError(f"claim path {path!r}: a quoted segment must be followed by '.' or the end")
            i += 1
            if i == n:
                raise ValueError(f"claim path {path!r} ends with '.'; remove it")
        if not segments[-1]:
            raise ValueError(f"claim path {path!r} has an empty segment")
    return tuple(segments)


_MISSING = object()


def resolve_claim(claims: Mapping[str, Any], path: str) -> Any:
    """The claim value at ``path``, or the module's ``_MISSING`` sentinel (see ``claim_present``)."""
    value: Any = claims
    for segment in parse_claim_path(path):
        if not isinstance(value, Mapping) or segment not in value:
            return _MISSING
        value = value[segment]
    return value


def claim_present(value: Any) -> bool:
    return value is not _MISSING


def claim_strings(value: Any) -> list[str]:
    """The strings a claim value is compared as (see the module docstring)."""
    if isinstance(value, list):
        return [s for v in value for s in claim_strings(v) if not isinstance(v, list)]
    if isinstance(value, str):
        return [value]
    if isinstance(value, (bool, int, float)):
        return [json.dumps(value)]
    return []


def oversized_claim(claims: Mapping[str, Any], limit: int = MAX_CLAIM_LENGTH) -> str | None:
    """Why a token's claims are refused for size (which claim, how long), or None.

    Every string at any depth (inside objects and lists too), and every claim name, is held to
    ``limit`` characters."""
    pending: list[tuple[str, Any]] = [("", dict(claims))]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str) and len(value) > limit:
            return (
                f"claim {path} is {len(value)} characters long; claims longer than {limit} characters "
                "are refused (workload tokens carry short claims)"
            )
        if isinstance(value, Mapping):
            for key, item in value.items():
                if len(str(key)) > limit:
                    return f"a claim name under {path or 'the top level'} is longer than {limit} characters"
                pending.append((f"{path}.{key}" if path else str(key), item))
        elif isinstance(value, list):
            pending += [(f"{path}[{i}]", item) for i, item in enumerate(value)]
    return None


# ---------------------------------------------------------------------------------------------
# Evaluation


@dataclass(frozen=True)
class Request:
    """What the exchange asks for: a token type and, for team/personal/runner, a name."""

    token_type: str = "organization"
    name: str | None = None
    admin: bool = False

    @classmethod
    def from_scope(cls, token_type: str, scope: str | None) -> "Request":
        """Read the exchange's ``scope`` (``team:NAME``, ``user:LOGIN``, ``runner:ID``, ``admin``)."""
        if token_type not in TOKEN_TYPES:
            raise ValueError(f"requested token type {token_type!r} is not one of {', '.join(TOKEN_TYPES)}")
        scope = (scope or "").strip()
        prefix = TOKEN_TYPES[token_type].scope_prefix
        if prefix is None:
            if scope not in ("", "admin"):
                raise ValueError(f"scope {scope!r}: organization tokens take an empty scope or 'admin'")
            return cls(token_type, None, scope == "admin")
        if not scope.startswith(prefix) or len(scope) == len(prefix):
            raise ValueError(f"scope {scope!r}: {token_type} tokens need scope '{prefix}NAME'")
        return cls(token_type, scope[len(prefix) :])

    @property
    def scope(self) -> str:
        prefix = TOKEN_TYPES[self.token_type].scope_prefix
        if prefix is None:
            return "admin" if self.admin else ""
        return prefix + (self.name or "")


@dataclass(frozen=True)
class RuleOutcome:
    claim: str
    pattern: str
    matched: bool
    reason: str


@dataclass(frozen=True)
class PolicyOutcome:
    """Why one policy did or did not match."""

    index: int
    decision: str
    applies: bool
    """The token type (and name) fit the request."""
    matched: bool
    """It applies and every rule matched."""
    reasons: tuple[str, ...]
    rules: tuple[RuleOutcome, ...] = ()


@dataclass(frozen=True)
class Decision:
    allowed: bool
    policy_index: int | None
    """The deciding policy (None when nothing matched)."""
    token_type: str
    summary: str
    outcomes: tuple[PolicyOutcome, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "policy_index": self.policy_index,
            "token_type": self.token_type,
            "summary": self.summary,
            "reasons": [
                {
                    "policy": o.index,
                    "decision": o.decision,
                    "applies": o.applies,
                    "matched": o.matched,
                    "reasons": list(o.reasons),
                }
                for o in self.outcomes
            ],
        }


def _fit(policy: Policy, request: Request) -> list[str]:
    """Why the policy does not apply to the request (empty: it applies)."""
    if policy.token_type != request.token_type:
        return [f"token type {policy.token_type!r} is not the requested {request.token_type!r}"]
    pattern = policy.name_pattern
    if pattern is not None:
        if request.name is None:
            return [f"the request names no {_what(TOKEN_TYPES[policy.token_type].name_field)}"]
        if not match(pattern, request.name):
            # Value first, then the pattern, as for a claim ("claim sub='x' does not match 'y'").
            field = TOKEN_TYPES[policy.token_type].name_field
            return [f"the requested {_what(field)} {request.name!r} does not match {field} {pattern!r}"]
    if request.admin and policy.decision == "allow" and "admin" not in policy.authorized_permissions:
        return ["admin scope requested but the policy does not authorize 'admin'"]
    return []


def rule_matches(claims: Mapping[str, Any], path: str, pattern: str) -> bool:
    """Does the claim at ``path`` match ``pattern``? (A missing claim never matches.)"""
    value = resolve_claim(claims, path)
    return claim_present(value) and any(match(pattern, s) for s in claim_strings(value))


def _rule_outcome(claims: Mapping[str, Any], path: str, pattern: str) -> RuleOutcome:
    if rule_matches(claims, path, pattern):
        return RuleOutcome(path, pattern, True, f"claim {path} matches {pattern!r}")
    value = resolve_claim(claims, path)
    if not claim_present(value):
        return RuleOutcome(path, pattern, False, f"claim {path} is missing")
    candidates = claim_strings(value)
    shown = candidates[0] if len(candidates) == 1 else candidates
    return RuleOutcome(path, pattern, False, f"claim {path}={shown!r} does not match {pattern!r}")


def explain(index: int, policy: Policy, claims: Mapping[str, Any], request: Request) -> PolicyOutcome:
    misfit = _fit(policy, request)
    rules = tuple(_rule_outcome(claims, path, pattern) for path, pattern in policy.rules.items())
    failed = [r.reason for r in rules if not r.matched]
    applies = not misfit
    matched = applies and not failed
    reasons = tuple(misfit + failed) if not matched else tuple(r.reason for r in rules)
    return PolicyOutcome(index, policy.decision, applies, matched, reasons, rules)


def _matches(policy: Policy, claims: Mapping[str, Any], request: Request) -> bool:
    return not _fit(policy, request) and all(rule_matches(claims, k, v) for k, v in policy.rules.items())


def decide(policies: Sequence[Policy], claims: Mapping[str, Any], request: Request) -> int | None:
    """The index of the deciding policy if the exchange is allowed, else None. Same precedence as
    ``evaluate`` without building explanations (the emulator's hot path)."""
    matching = [i for i, p in enumerate(policies) if _matches(p, claims, request)]
    if any(policies[i].decision == "deny" for i in matching):
        return None
    return matching[0] if matching else None


def evaluate(policies: Sequence[Policy], claims: Mapping[str, Any], request: Request) -> Decision:
    """Decide an exchange per the module docstring's precedence, explaining every policy."""
    outcomes = tuple(explain(i, p, claims, request) for i, p in enumerate(policies))
    for o in outcomes:
        if o.matched and o.decision == "deny":
            return Decision(False, o.index, request.token_type, f"denied by policy {o.index}", outcomes)
    for o in outcomes:
        if o.matched:
            return Decision(True, o.index, request.token_type, f"allowed by policy {o.index}", outcomes)
    return Decision(False, None, request.token_type, "denied: no policy matched", outcomes)
