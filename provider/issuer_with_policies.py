"""``OidcIssuerWithPolicies``: an OIDC issuer and its whole policy document as one resource.

The same issuer and the same document as ``OidcIssuer`` + ``OidcIssuerPolicy``, with the same
rules (this module composes theirs; it adds none of its own), in one resource instead of two, as
the official ``pulumiservice:index:OidcIssuer`` does. Why it exists: the engine writes the whole
state after every step, so a stack of N issuers costs about half as much with N resources as
with 2N (docs/measured.md). It stands beside the two resources; it does not replace them.

* ``create``: the lookup by URL (shared, ``issuer_index``) and its refusal, then register, then
  write the document under the takeover rule (``issuer_policy.write_document``). When the
  document cannot be written, the issuer this create registered is deleted again: no issuer is
  left behind open or unowned.
* ``read``: the issuer and its document; either gone is the resource gone.
* ``update``: the issuer's fields when they changed; the document when it changed, refused when
  the service's ``version`` is not the one in state (``issuer_policy.read_document_at``, before
  anything is written).
* With ``adopt=True``, create may rename the adopted issuer before writing its document; if that
  write fails, the issuer stays (it was not this resource's to delete) with its new name, and the
  next ``pulumi up`` adopts it again and finishes. The service has no transaction across the two.
* ``delete``: the issuer is deleted, and the service drops its document with it (there is no
  policy DELETE; research/pulumi_cloud_oidc.md §2.1): nothing stays open, so no CLOSED write.

Resource id ``ORG/ISSUER_ID``. The import path of ``OidcIssuerWithPoliciesProvider`` is a
permanent API.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from . import issuer as issuer_mod
from . import issuer_policy as document
from .base import CloudResourceProvider, inputs_only, is_gone, is_unknown, split_id, with_values
from .errors import PulumiCloudError
from .issuer_index import INDEX

if TYPE_CHECKING:  # the HTTP stack is imported where a client is made (base._client)
    from .client import PulumiCloudClient

DOCUMENT_KEYS = ("policies", "lint_waivers")
INPUT_KEYS = (*issuer_mod.INPUT_KEYS, *DOCUMENT_KEYS)
OUTPUT_KEYS = (*issuer_mod.OUTPUT_KEYS, *document.OUTPUT_KEYS)
WHAT = "OidcIssuerWithPolicies"


# ---------------------------------------------------------------------------------------------
# Pure logic


def validate(props: Mapping[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The issuer's checks and the document's, the document linted against this issuer's URL."""
    problems: list[tuple[str, str]] = []
    for key in props:
        if key not in INPUT_KEYS and key not in OUTPUT_KEYS and key != "__provider":
            problems.append((key, f"unknown property; {WHAT} takes: {', '.join(INPUT_KEYS)}"))
    issuer_inputs, issuer_problems = issuer_mod.validate(
        {k: v for k, v in props.items() if k in issuer_mod.INPUT_KEYS or k in issuer_mod.OUTPUT_KEYS}
    )
    problems += issuer_problems
    where = props.get("fix_phrasing") if props.get("fix_phrasing") in ("python", "config") else "python"
    normalized, document_problems = document.document_problems(
        props, issuer_url=props.get("url"), organization=props.get("organization"), where=where
    )
    problems += document_problems
    inputs = {**dict(props), **issuer_inputs}
    if normalized is not None:
        inputs["policies"] = normalized
    return inputs, problems


def diff_props(olds: Mapping[str, Any], news: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(changed keys, keys forcing a replacement): the issuer's rules, then the document's
    (its order matters: it is the document)."""
    changed, replaces = issuer_mod.diff_props(olds, news)
    changed += [k for k in DOCUMENT_KEYS if is_unknown(news.get(k)) or news.get(k) != olds.get(k)]
    return changed, replaces


def outputs(props: Mapping[str, Any], org: str, issuer: Mapping[str, Any], doc: Mapping[str, Any]) -> dict[str, Any]:
    outs = issuer_mod.outputs(props, org, issuer)
    outs.update(inputs_only(props, DOCUMENT_KEYS))
    outs.update(
        policy_id=doc["id"],
        version=doc.get("version"),
        policies=[document.python_form(p) for p in doc.get("policies") or []],
    )
    return outs


# ---------------------------------------------------------------------------------------------
# The dynamic provider


class OidcIssuerWithPoliciesProvider(CloudResourceProvider):
    """Registers an issuer and writes its policies; deleting it deletes both."""

    validate_inputs = staticmethod(validate)
    diff_inputs = staticmethod(diff_props)

    def create(self, props: dict[str, Any]) -> CreateResult:
        org = props["organization"]
        with self._client() as client:
            with INDEX.claim(client, org, props["url"]):
                issuer, registered = issuer_mod.ensure_issuer(client, org, props)
            try:
                doc = document.write_document(client, org, issuer["id"], props["policies"], adopt=bool(props.get("adopt")))
            except BaseException:
                if registered:
                    _unregister(client, org, issuer["id"])
                raise
        return CreateResult(f"{org}/{issuer['id']}", outputs(props, org, issuer, doc))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        org, issuer_id = split_id(id_, WHAT)
        with self._client() as client:
            try:
                issuer = client.get_issuer(org, issuer_id)
                doc = client.get_auth_policy(org, issuer_id)
            except PulumiCloudError as e:
                if is_gone(e):
                    return ReadResult("", {})
                raise
        outs = outputs(props, org, issuer, doc)
        inputs = inputs_only(props, INPUT_KEYS)
        inputs.update(organization=org, url=outs["url"], name=outs["name"], policies=outs["policies"])
        return ReadResult(id_, outs, inputs)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        org, issuer_id = split_id(id_, WHAT)
        issuer_changed = issuer_mod.diff_props(olds, news)[0]
        document_changed = news.get("policies") != olds.get("policies")
        issuer: Mapping[str, Any] = _issuer_from_state(olds)
        doc: Mapping[str, Any] = {"id": olds.get("policy_id"), "version": olds.get("version"), "policies": olds.get("policies")}
        with self._client() as client:
            # The document's version is checked before anything is written, so a refusal leaves
            # the issuer as it was too.
            current = document.read_document_at(client, org, issuer_id, olds.get("version")) if document_changed else None
            if issuer_changed:
                name = news.get("name") or olds.get("name") or news["url"]
                issuer = client.update_issuer(org, issuer_id, issuer_mod.update_body(news, name))
            if current is not None:
                doc = document.overwrite_document(client, org, issuer_id, current, news["policies"])
        return UpdateResult(outputs(news, org, issuer, doc))

    def delete(self, id_: str, _props: dict[str, Any]) -> None:
        org, issuer_id = split_id(id_, WHAT)
        with self._client() as client:
            try:
                client.delete_issuer(org, issuer_id)
            except PulumiCloudError as e:
                if not is_gone(e):
                    raise
            INDEX.deleted(client, org, issuer_id)


def _issuer_from_state(olds: Mapping[str, Any]) -> dict[str, Any]:
    """The service's issuer as the state last recorded it (``issuer.outputs`` read back), for an
    update that sends nothing about the issuer."""
    return {
        "id": olds.get("issuer_id"),
        "url": olds.get("url"),
        "name": olds.get("name"),
        "issuer": olds.get("issuer"),
        "thumbprints": olds.get("thumbprints"),
        "maxExpiration": olds.get("max_expiration_seconds"),
        "created": olds.get("created"),
        "modified": olds.get("modified"),
        "jwks": olds.get("jwks"),
    }


def _unregister(client: PulumiCloudClient, org: str, issuer_id: str) -> None:
    """Deletes the issuer a failed create registered. Its own failure is said on stderr (the
    engine shows it) and never hides the create's error."""
    try:
        client.delete_issuer(org, issuer_id)
    except PulumiCloudError as e:
        if not is_gone(e):
            print(
                f"{WHAT}: the issuer {issuer_id} this create registered could not be deleted again ({e}); "
                "it holds no allow policy; delete it in the console or with `pulumi refresh` and a new `pulumi up`",
                file=sys.stderr, flush=True,
            )
            return
    INDEX.deleted(client, org, issuer_id)


# ---------------------------------------------------------------------------------------------
# The resource (program side)


class OidcIssuerWithPolicies(Resource, module="oidc", name="OidcIssuerWithPolicies"):
    """An OIDC issuer trusted by a Pulumi Cloud organization, with its ordered policies.

    Arguments as ``OidcIssuer`` (``organization``, ``url``, ``name``, ``max_expiration_seconds``,
    ``thumbprints``, ``jwks``) and ``OidcIssuerPolicy`` (``policies``, ``lint_waivers``), with the
    same checks; the policies are linted against ``url`` from the first preview. ``adopt=True``
    takes over an issuer already registered at the URL and whatever policies it holds.

    One resource instead of two: half the engine's steps, so ``pulumi up`` of many issuers is
    about twice as fast. Deleting it deletes the issuer, and with it its policies. Changing
    ``organization`` or ``url`` replaces it.
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
    policies: pulumi.Output[list]
    policy_id: pulumi.Output[str]
    version: pulumi.Output[int]
    lint_waivers: pulumi.Output[Optional[dict]]

    def __init__(
        self,
        resource_name: str,
        *,
        organization: pulumi.Input[str] | None = None,
        url: pulumi.Input[str] | None = None,
        policies: pulumi.Input[Sequence[Any]] | None = None,
        name: pulumi.Input[str] | None = None,
        max_expiration_seconds: pulumi.Input[int] | None = None,
        thumbprints: pulumi.Input[Sequence[pulumi.Input[str]]] | None = None,
        jwks: pulumi.Input[Mapping[str, Any]] | None = None,
        lint_waivers: Mapping[str, str] | None = None,
        adopt: bool = False,
        fix_phrasing: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        read_only = opts is not None and opts.id is not None
        if not read_only:
            missing = [k for k, v in (("organization", organization), ("url", url), ("policies", policies)) if v is None]
            if missing:
                raise TypeError(f"{WHAT}: missing required argument(s) {', '.join(missing)}")
        if isinstance(policies, (list, tuple)):
            policies = [document._program_form(p) for p in policies]
        props = {
            "organization": organization,
            "url": url,
            "name": name if name is not None else (None if read_only else resource_name),
            "max_expiration_seconds": max_expiration_seconds,
            "thumbprints": thumbprints,
            "jwks": jwks,
            "adopt": adopt if not read_only else None,
            "fix_phrasing": fix_phrasing,
            "policies": policies,
            "lint_waivers": dict(lint_waivers) if lint_waivers else None,
            **{key: None for key in OUTPUT_KEYS},
        }
        super().__init__(OidcIssuerWithPoliciesProvider(), resource_name, props, opts)
        if not read_only:
            where = fix_phrasing or "python"
            with_values((url, jwks, max_expiration_seconds, thumbprints, policies, organization, props["lint_waivers"]),
                        lambda args: self._warn(args, where))
            # An apply never runs on an unknown value, so whether the URL is known is asked directly.
            if isinstance(url, pulumi.Output):
                pulumi.Output.from_input(url.is_known()).apply(lambda known: document._warn_skipped(known, self, where))

    def _warn(self, args: list[Any], where: str) -> None:
        url, jwks, max_expiration_seconds, thumbprints, policies, organization, waivers = args
        issuer_mod.warn_issuer_lint(self, where, waivers, url=url, jwks=jwks, max_expiration_seconds=max_expiration_seconds,
                                    thumbprints=thumbprints)
        document._warn_lint([policies, url, organization, waivers], self, where)

    @staticmethod
    def get(resource_name: str, id: pulumi.Input[str], opts: pulumi.ResourceOptions | None = None) -> "OidcIssuerWithPolicies":
        """A read-only reference to an existing issuer and its policies, by id ``ORG/ISSUER_ID``."""
        return OidcIssuerWithPolicies(resource_name, opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(id=id)))
