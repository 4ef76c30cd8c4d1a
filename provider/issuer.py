"""``OidcIssuer``: an OIDC issuer trusted by a Pulumi Cloud organization, as a dynamic resource.

Resource id ``ORG/ISSUER_ID``. The import path of ``OidcIssuerProvider`` is a permanent API:
existing stacks hold a pickled reference to it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from . import wire
from .base import CloudResourceProvider, inputs_only, is_gone, is_unknown, split_id, with_values
from .errors import PulumiCloudError
from .issuer_index import INDEX
from .urls import issuer_url_problem, path_segment_problem

if TYPE_CHECKING:  # the HTTP stack is imported where a client is made (base._client)
    from .client import PulumiCloudClient

INPUT_KEYS = ("organization", "url", "name", "max_expiration_seconds", "thumbprints", "jwks", "adopt", "fix_phrasing")
REPLACE_KEYS = ("organization", "url")
OUTPUT_KEYS = ("issuer_id", "issuer", "created", "modified")
THUMBPRINT = re.compile(r"^[0-9a-f]{64}$")
MAX_JWKS_KEYS = 20
"""Keys in an uploaded JWKS (this project's limit: issuers publish a few, two during a rotation)."""


# ---------------------------------------------------------------------------------------------
# Pure logic: validation, wire mapping, diff


FIX_PHRASINGS = ("python", "config")
"""How a resource's check failures and warnings phrase fixes: Python arguments, or this
project's stack config keys (``OidcTrust`` built from stack config passes "config")."""


def fix_phrasing_problems(value: Any) -> list[tuple[str, str]]:
    if value is None or is_unknown(value) or value in FIX_PHRASINGS:
        return []
    return [("fix_phrasing", f"{value!r} is not one of {', '.join(FIX_PHRASINGS)}; leave it out for Python phrasing")]


def url_problems(url: Any, prop: str = "url") -> list[tuple[str, str]]:
    problem = issuer_url_problem(url)
    return [(prop, problem)] if problem else []


def jwks_problems(jwks: Any, prop: str = "jwks") -> list[tuple[str, str]]:
    """A static JWKS must be a key set of 1 to ``MAX_JWKS_KEYS`` keys (this project's limits), each
    acceptable to ``token_verify.jwk_problem``: the one rule for a key, which the service's
    registration applies too (the emulator's), so preview refuses what registration would."""
    if not isinstance(jwks, Mapping) or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
        return [(prop, "must be a JSON Web Key Set: {'keys': [{'kty': 'RSA', 'kid': '...', 'n': '...', 'e': 'AQAB'}]}")]
    if len(jwks["keys"]) > MAX_JWKS_KEYS:
        return [(prop, f"holds {len(jwks['keys'])} keys; at most {MAX_JWKS_KEYS} are accepted (keep the current and the next key)")]
    from .token_verify import jwk_problem  # PyJWT and cryptography: only for a static JWKS

    problems = ((f"{prop}.keys[{i}]", jwk_problem(key)) for i, key in enumerate(jwks["keys"]))
    return [(where, problem) for where, problem in problems if problem]


def validate(props: Mapping[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Check every known input; returns (normalized inputs, problems). Unknown values pass."""
    problems: list[tuple[str, str]] = []
    inputs = dict(props)
    for key in props:
        if key not in INPUT_KEYS and key not in OUTPUT_KEYS and key != "__provider":
            problems.append((key, f"unknown property; OidcIssuer takes: {', '.join(INPUT_KEYS)}"))

    def known(key: str) -> bool:
        return props.get(key) is not None and not is_unknown(props[key])

    org = props.get("organization")
    if not is_unknown(org):
        problem = path_segment_problem(org, "the Pulumi Cloud organization name, e.g. 'acme'")
        if problem:
            problems.append(("organization", problem))
    if not is_unknown(props.get("url")):
        problems += url_problems(props.get("url"))
    if known("name") and (not isinstance(props["name"], str) or not props["name"].strip()):
        problems.append(("name", "must be a non-empty display name, or leave it unset to use the resource name"))
    if known("max_expiration_seconds"):
        value = props["max_expiration_seconds"]
        if isinstance(value, float) and value.is_integer():
            value = inputs["max_expiration_seconds"] = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= wire.MAX_EXPIRATION:
            problems.append(
                ("max_expiration_seconds", f"{value!r} is out of range; give whole seconds from 1 to {wire.MAX_EXPIRATION} (25 h), or None for the service default")
            )
    if known("thumbprints"):
        normalized, thumb_problems = _thumbprints(props["thumbprints"])
        problems += thumb_problems
        inputs["thumbprints"] = normalized
    if known("jwks"):
        problems += jwks_problems(props["jwks"])
    if known("adopt") and not isinstance(props["adopt"], bool):
        problems.append(("adopt", "must be True or False"))
    problems += fix_phrasing_problems(props.get("fix_phrasing"))
    if not problems and not is_unknown(props.get("url")):
        where = props.get("fix_phrasing") or "python"
        problems += [
            (LINT_PROPERTY.get(f.id, "url"), f.text(where)) for f in issuer_lint(inputs) if f.severity == "error"
        ]
    return inputs, problems


LINT_PROPERTY = {"OIDC016": "max_expiration_seconds", "OIDC019": "jwks", "OIDC021": "thumbprints", "OIDC025": "jwks"}


def issuer_lint(props: Mapping[str, Any]) -> list[Any]:
    """The linter's issuer rules (URL, JWKS, lifetime, thumbprints) over known inputs."""
    from .lint import lint_issuer

    def known(key: str) -> Any:
        value = props.get(key)
        return None if is_unknown(value) else value

    return lint_issuer(
        props["url"],
        jwks=known("jwks"),
        max_expiration_seconds=known("max_expiration_seconds"),
        thumbprints=known("thumbprints"),
    )


def _thumbprints(value: Any) -> tuple[Any, list[tuple[str, str]]]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        return value, [("thumbprints", "must be a list of SHA-256 thumbprints (64 hex characters each)")]
    normalized, problems = [], []
    for i, t in enumerate(value):
        text = t.replace(":", "").strip().lower() if isinstance(t, str) else t
        if not isinstance(text, str) or not THUMBPRINT.match(text):
            hint = " (that looks like an AWS SHA-1 thumbprint)" if isinstance(text, str) and len(text) == 40 else ""
            problems.append(
                (f"thumbprints[{i}]", f"{t!r} is not a SHA-256 thumbprint{hint}; use 64 hex characters, from "
                 "`openssl x509 -noout -fingerprint -sha256` with the colons removed")
            )
        normalized.append(text)
    return normalized, problems


def registration_body(props: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The register (POST) body; unset optional fields are omitted."""
    body: dict[str, Any] = {"name": name, "url": props["url"]}
    return {**body, **_optional_fields(props)}


def update_body(props: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The PATCH body. ``name`` is always sent (the API requires it); the URL never is."""
    return {"name": name, **_optional_fields(props)}


def _optional_fields(props: Mapping[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if props.get("max_expiration_seconds") is not None:
        body["maxExpiration"] = int(props["max_expiration_seconds"])
    if props.get("thumbprints") is not None:
        body["thumbprints"] = list(props["thumbprints"])
    if props.get("jwks") is not None:
        body["jwks"] = props["jwks"]
    return body


def outputs(props: Mapping[str, Any], org: str, server: Mapping[str, Any]) -> dict[str, Any]:
    """Outputs: the inputs as given, then what the service says (server-only ``lastUsed`` is left out)."""
    outs = inputs_only(props, INPUT_KEYS)
    outs.update(
        organization=org,
        url=server.get("url", props.get("url")),
        name=server.get("name"),
        issuer_id=server["id"],
        issuer=server.get("issuer") or server.get("url"),
        thumbprints=list(server.get("thumbprints") or []),
        max_expiration_seconds=server.get("maxExpiration") or None,
        created=server.get("created"),
        modified=server.get("modified"),
    )
    if server.get("jwks"):
        outs["jwks"] = server["jwks"]
    return outs


def server_view(org: str, server: Mapping[str, Any]) -> dict[str, Any]:
    """The service's issuer in the inputs' terms (what ``diff_props`` compares with)."""
    return {
        "organization": org,
        "url": server.get("url"),
        "name": server.get("name"),
        "max_expiration_seconds": server.get("maxExpiration") or None,
        "thumbprints": list(server.get("thumbprints") or []),
        "jwks": server.get("jwks") or None,
    }


def diff_props(olds: Mapping[str, Any], news: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(changed keys, keys that force a replacement). ``olds`` are the old outputs."""
    changed = []
    for key in INPUT_KEYS:
        new, old = news.get(key), olds.get(key)
        if key in ("adopt", "fix_phrasing"):
            continue  # adopt only matters at create; fix_phrasing only words messages
        if is_unknown(new):
            changed.append(key)
        elif key in ("max_expiration_seconds", "thumbprints", "jwks") and new is None:
            continue  # None: whatever the service holds (its default) is fine
        elif key == "max_expiration_seconds" and new == (old or wire.MAX_EXPIRATION):
            continue  # the service reports its default as 90000
        elif key == "thumbprints" and sorted(new) == sorted(old or []):
            continue  # order of thumbprints does not matter
        elif new != old:
            changed.append(key)
    return changed, [k for k in changed if k in REPLACE_KEYS]


# ---------------------------------------------------------------------------------------------
# The dynamic provider: thin shell around the functions above


class OidcIssuerProvider(CloudResourceProvider):
    """Registers, updates and deletes an OIDC issuer through the Pulumi Cloud REST API."""

    validate_inputs = staticmethod(validate)
    diff_inputs = staticmethod(diff_props)

    def create(self, props: dict[str, Any]) -> CreateResult:
        org = props["organization"]
        with self._client() as client, INDEX.claim(client, org, props["url"]):
            server, _registered = ensure_issuer(client, org, props)
        return CreateResult(f"{org}/{server['id']}", outputs(props, org, server))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        org, issuer_id = split_id(id_, "OidcIssuer")
        with self._client() as client:
            try:
                server = client.get_issuer(org, issuer_id)
            except PulumiCloudError as e:
                if is_gone(e):
                    return ReadResult("", {})
                raise
        outs = outputs(props, org, server)
        inputs = inputs_only(props, INPUT_KEYS)
        inputs.update(organization=org, url=outs["url"], name=outs["name"])
        return ReadResult(id_, outs, inputs)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        org, issuer_id = split_id(id_, "OidcIssuer")
        name = news.get("name") or olds.get("name") or news["url"]
        with self._client() as client:
            server = client.update_issuer(org, issuer_id, update_body(news, name))
        return UpdateResult(outputs(news, org, server))

    def delete(self, id_: str, _props: dict[str, Any]) -> None:
        org, issuer_id = split_id(id_, "OidcIssuer")
        with self._client() as client:
            try:
                client.delete_issuer(org, issuer_id)
            except PulumiCloudError as e:
                if not is_gone(e):
                    raise
            INDEX.deleted(client, org, issuer_id)


def ensure_issuer(client: PulumiCloudClient, org: str, props: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """Create's issuer step, under ``INDEX.claim`` of the URL: (the service's issuer, whether this
    call registered it). The lookup by URL (shared, ``issuer_index``) comes first: an issuer
    already at the URL is taken over only with ``adopt`` or when it is what an earlier create of
    this resource left behind (``_leftover``); otherwise create refuses before changing anything."""
    name = props.get("name") or props["url"]
    existing = INDEX.find(client, org, props["url"])
    if existing is not None and not props.get("adopt") and not _leftover(client, org, existing, name):
        raise PulumiCloudError(
            409,
            f"organization {org!r} already trusts an issuer at {props['url']} (id {existing['id']}); "
            "set adopt=True to bring it under this stack, or remove it first",
            operation="register OIDC issuer",
        )
    if existing is not None and not diff_props(server_view(org, existing), {**props, "name": name})[0]:
        return existing, False  # it already is what is declared: adopting writes nothing
    if existing is not None:
        return client.update_issuer(org, existing["id"], update_body(props, name)), False
    server = client.register_issuer(org, registration_body(props, name))
    INDEX.registered(client, org, server)
    return server, True


def _leftover(client: PulumiCloudClient, org: str, existing: Mapping[str, Any], name: str) -> bool:
    """Is ``existing`` what an earlier create of this resource left behind (its request applied,
    its answer lost)? Same name and no allow policy: taking it over loses nothing. An issuer that
    admits someone is never taken for a leftover, even with the very policies this resource would
    write: it may be another resource's (an ``OidcIssuer`` being replaced by an
    ``OidcIssuerWithPolicies`` in the same update, whose delete would then remove it)."""
    if existing.get("name") != name:
        return False
    policies = client.get_auth_policy(org, existing["id"]).get("policies") or []
    return not any(p.get("decision") == "allow" for p in policies)


class OidcIssuer(Resource, module="oidc", name="OidcIssuer"):
    """An OIDC issuer trusted by a Pulumi Cloud organization.

    ``url`` is the issuer (the service reads ``url + /.well-known/openid-configuration``);
    ``name`` defaults to the resource name; ``max_expiration_seconds`` caps the Pulumi tokens
    minted through it (None: the service default, 25 h); ``thumbprints`` pins TLS certificates
    (None: the service records the one it sees); ``jwks`` uploads a static key set for an issuer
    the service cannot reach; ``adopt=True`` takes over an issuer already registered at the URL.
    ``lint_waivers`` (``{rule_id: reason}``) silence lint warnings about the issuer (e.g. OIDC017
    for a local issuer over loopback http); they are the program's only, never in the state, and
    the issuer's lint errors are never waived. Changing ``organization`` or ``url`` replaces the
    issuer.
    """

    organization: pulumi.Output[str]
    url: pulumi.Output[str]
    name: pulumi.Output[str]
    issuer_id: pulumi.Output[str]
    issuer: pulumi.Output[str]
    thumbprints: pulumi.Output[list]
    max_expiration_seconds: pulumi.Output[Optional[int]]
    jwks: pulumi.Output[Optional[dict]]
    created: pulumi.Output[str]
    modified: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        organization: pulumi.Input[str] | None = None,
        url: pulumi.Input[str] | None = None,
        name: pulumi.Input[str] | None = None,
        max_expiration_seconds: pulumi.Input[int] | None = None,
        thumbprints: pulumi.Input[Sequence[pulumi.Input[str]]] | None = None,
        jwks: pulumi.Input[Mapping[str, Any]] | None = None,
        adopt: bool = False,
        fix_phrasing: str | None = None,
        lint_waivers: Mapping[str, str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        read_only = opts is not None and opts.id is not None
        if not read_only:
            _require_program_inputs(organization=organization, url=url)
        waivers = program_waivers(lint_waivers, fix_phrasing or "python")
        props = {
            "organization": organization,
            "url": url,
            "name": name if name is not None else (None if read_only else resource_name),
            "max_expiration_seconds": max_expiration_seconds,
            "thumbprints": thumbprints,
            "jwks": jwks,
            "adopt": adopt if not read_only else None,
            "fix_phrasing": fix_phrasing,
            **{key: None for key in OUTPUT_KEYS},
        }
        super().__init__(OidcIssuerProvider(), resource_name, props, opts)
        self._fix_phrasing = fix_phrasing or "python"
        self._url_input = url  # lets OidcIssuerPolicy(issuer=self) lint with the URL at the first preview
        if not read_only:
            with_values((url, jwks, max_expiration_seconds, thumbprints), lambda args: self._warn(waivers, *args))

    def _warn(self, waivers: Mapping[str, str], url: Any, jwks: Any, max_expiration_seconds: Any, thumbprints: Any) -> None:
        warn_issuer_lint(self, self._fix_phrasing, waivers, url=url, jwks=jwks,
                         max_expiration_seconds=max_expiration_seconds, thumbprints=thumbprints)

    @staticmethod
    def get(resource_name: str, id: pulumi.Input[str], opts: pulumi.ResourceOptions | None = None) -> "OidcIssuer":
        """A read-only reference to an existing issuer, by id ``ORG/ISSUER_ID``."""
        return OidcIssuer(resource_name, opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(id=id)))


def program_waivers(lint_waivers: Any, where: str = "python") -> dict[str, str]:
    """A program's ``lint_waivers`` argument, checked (``ValueError`` naming it and the fix, before
    anything is registered); {} for None."""
    if lint_waivers is None:
        return {}
    if not isinstance(lint_waivers, Mapping):
        raise ValueError(f"lint_waivers: must be a dict of {{rule id: reason}}, not {type(lint_waivers).__name__}")
    from .lint.catalog import check_waivers

    problems = check_waivers(lint_waivers, where)
    if problems:
        raise ValueError("lint_waivers: " + "; ".join(problems))
    return dict(lint_waivers)


def warn_issuer_lint(resource: pulumi.Resource, where: str, waivers: Mapping[str, str] | None = None,
                     **props: Any) -> None:
    """The issuer lint rules' warnings at preview (``url``, ``jwks``, ``max_expiration_seconds``,
    ``thumbprints``), from the program side; nothing when check reports a problem (it names it).
    ``waivers`` silence warnings, when usable (``OidcIssuer`` refuses unusable ones at
    construction; ``OidcIssuerWithPolicies``'s check names them); the issuer's lint errors are
    check failures and are never waived."""
    if validate({**props, "organization": "o"})[1]:
        return
    from .lint.catalog import check_waivers

    usable = isinstance(waivers, Mapping) and not check_waivers(waivers)
    for f in issuer_lint(props):
        if f.severity != "error" and not (usable and f.id in waivers):
            pulumi.log.warn(f.text(where), resource=resource)


def _require_program_inputs(**values: Any) -> None:
    missing = [k for k, v in values.items() if v is None]
    if missing:
        raise TypeError(f"OidcIssuer: missing required argument(s) {', '.join(missing)}")
