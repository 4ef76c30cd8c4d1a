"""``OidcIssuerPolicy``: the whole ordered authorization-policy list of one issuer.

The API stores and replaces the list as one document. Resource id ``ORG/ISSUER_ID``.

One document, one owner (``takeover_refusal`` and ``release_refusal`` are the rule):

* ``create`` takes over only the service's default document, CLOSED, a document equal to the
  one it writes (an earlier create of this resource whose answer was lost), or anything with
  ``adopt=True``. With ``adopt=True`` and the very document the service holds, nothing is written:
  the service's ``version`` stays, so keep ``adopt=True`` only until that first ``pulumi up``
  (a rename without ``aliases`` while it is set would let the old name's delete close the issuer). Anything else belongs to someone: a renamed or moved copy of this resource
  (the engine creates the new one before deleting the old), another stack, a person. Create
  then refuses before changing the service.
* ``delete`` PATCHes CLOSED (``policy.closed_policies``: the issuer is left shut, never open)
  only while the service's ``version`` is still the one this resource wrote; a document written
  since is left alone, with one line on the provider's stderr saying why.

The service has no conditional write: each of these GETs the document, decides, then PATCHes
unconditionally. A write by someone else in between is seen afterwards, in the PATCH's answer
(``write_conflict``, under the assumption ``wire.POLICY_VERSION_STEP``), and reported as a
``ConcurrentChangeError``: the other write was replaced (create, update) or closed (delete). A
PATCH the client resent after a lost answer is told apart by the client's count of sends
(``client.Answer.attempts``), so it is no false conflict.

The import path of ``OidcIssuerPolicyProvider`` is a permanent API.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Mapping, NamedTuple, Optional, Sequence

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from . import policy as model
from . import wire
from .base import CloudResourceProvider, inputs_only, is_gone, is_unknown, split_id, with_values
from .errors import Answer, PulumiCloudError
from .issuer import OidcIssuer, fix_phrasing_problems, url_problems
from .phrasing import Fix, Ref
from .urls import path_segment_problem

if TYPE_CHECKING:  # the HTTP stack is imported where a client is made (base._client)
    from .client import PulumiCloudClient

INPUT_KEYS = ("organization", "issuer_id", "policies", "issuer_url", "lint_waivers", "adopt", "fix_phrasing")
REPLACE_KEYS = ("organization", "issuer_id")
OUTPUT_KEYS = ("policy_id", "version")


class ConcurrentChangeError(PulumiCloudError):
    """The policy changed on the service since this stack last saw it."""


class DocumentOwnedError(PulumiCloudError):
    """Create found a policy document this resource did not write, and was not told to adopt it."""


# ---------------------------------------------------------------------------------------------
# Pure logic


def python_form(wire_policy: Mapping[str, Any]) -> dict[str, Any]:
    """A policy as the resource's outputs hold it (snake_case). Documents the model refuses (the
    service's own default deny, with an empty ``sub``) are mapped key by key, unvalidated."""
    try:
        return model.parse_policy(wire_policy).to_python()
    except model.PolicyError:
        return {model.PYTHON_KEYS.get(k, k): v for k, v in wire_policy.items()}


def lint_problems(
    policies: Sequence[model.Policy],
    *,
    issuer_url: str | None,
    organization: str | None,
    waivers: Mapping[str, str] | None,
    where: str = "python",
) -> tuple[list[tuple[str, str]], list[Any], list[Any]]:
    """(check failures for unwaived lint errors and unusable waivers, warnings to show, waived
    findings); fixes
    are phrased for ``where`` (``phrasing.WHERES``: Python arguments or stack config keys).

    Imported lazily: the linter is the largest module, needed only when there is a document."""
    from . import lint
    from .lint.catalog import check_waivers

    unusable = check_waivers(waivers or {}, where)
    if unusable:
        return [("lint_waivers", problem) for problem in unusable], [], []
    try:
        report = lint.lint(policies, issuer_url=issuer_url, organization=organization, waivers=waivers)
    except lint.WaiverError as e:
        return [("lint_waivers", problem) for problem in e.problems], [], []
    failures = []
    for f in report.errors:
        at = f"policies[{f.policy}]" if f.policy is not None else "policies"
        accept = Fix("to accept the risk: {waiver}", waiver=Ref("lint_waivers", {f.id: "<reason>"}))
        failures.append((at, f"{f.text(where)} ({accept.render(where)})"))
    return failures, list(report.warnings), list(report.waived)


def validate(props: Mapping[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Check every known input and lint the policies; returns (normalized inputs, problems)."""
    problems: list[tuple[str, str]] = []
    inputs = dict(props)
    for key in props:
        if key not in INPUT_KEYS and key not in OUTPUT_KEYS and key != "__provider":
            problems.append((key, f"unknown property; OidcIssuerPolicy takes: {', '.join(INPUT_KEYS)}"))
    org, issuer_id = props.get("organization"), props.get("issuer_id")
    for key, value, what in (
        ("organization", org, "the Pulumi Cloud organization name, e.g. 'acme'"),
        ("issuer_id", issuer_id, "the issuer's id, e.g. issuer.issuer_id"),
    ):
        problem = None if is_unknown(value) else path_segment_problem(value, what)
        if problem:
            problems.append((key, problem))
    issuer_url = props.get("issuer_url")
    if issuer_url is not None and not is_unknown(issuer_url):
        problems += url_problems(issuer_url, "issuer_url")
    adopt = props.get("adopt")
    if adopt is not None and not is_unknown(adopt) and not isinstance(adopt, bool):
        problems.append(("adopt", "must be True or False"))
    problems += fix_phrasing_problems(props.get("fix_phrasing"))
    normalized, document_problems_ = document_problems(
        props, issuer_url=issuer_url, organization=org,
        where=props.get("fix_phrasing") if props.get("fix_phrasing") in ("python", "config") else "python",
    )
    if normalized is not None:
        inputs["policies"] = normalized
    problems += document_problems_
    return inputs, problems


def document_problems(
    props: Mapping[str, Any], *, issuer_url: Any, organization: Any, where: str
) -> tuple[list[dict[str, Any]] | None, list[tuple[str, str]]]:
    """``policies`` and ``lint_waivers`` of ``props`` checked and linted against the issuer's URL
    and organization (either may be unknown at preview: what is known is linted); returns (the
    policies normalized, or None when they are unknown or unusable; problems). The one check of
    a document, for ``OidcIssuerPolicy`` and ``OidcIssuerWithPolicies``."""
    problems: list[tuple[str, str]] = []
    waivers = props.get("lint_waivers")
    waivers_usable = True
    if waivers is not None and not is_unknown(waivers):
        from .lint import check_waivers

        waiver_problems = (
            check_waivers(waivers)
            if isinstance(waivers, Mapping)
            else ["must map a rule id to the reason it is accepted: {'OIDC004': 'all repos of acme are ours'}"]
        )
        problems += [("lint_waivers", p) for p in waiver_problems]
        waivers_usable = not waiver_problems
    raw = props.get("policies")
    if raw is None:
        return None, [*problems, ("policies", "required: the ordered list of policies for this issuer")]
    if is_unknown(raw):
        return None, problems
    try:
        parsed = model.parse_policies(raw)
    except model.PolicyError as e:
        return None, [*problems, *e.problems]
    if waivers_usable and not is_unknown(waivers):
        # Unknown at preview (e.g. the issuer is being created): lint what is known now.
        failures, _warnings, _waived = lint_problems(
            parsed,
            issuer_url=None if is_unknown(issuer_url) else issuer_url,
            organization=None if is_unknown(organization) else organization,
            waivers=waivers,
            where=where,
        )
        problems += failures
    return [p.to_python() for p in parsed], problems


def _summary(found: Sequence[Any]) -> str:
    allows = sum(1 for p in found if isinstance(p, Mapping) and p.get("decision") == "allow")
    return f"{len(found)} polic{'y' if len(found) == 1 else 'ies'}, {allows} allow"


def takeover_refusal(
    current: Mapping[str, Any], *, organization: str, issuer_id: str, desired: Sequence[Any], adopt: bool
) -> str | None:
    """Why ``create`` must not overwrite the issuer's ``current`` document (a GET answer), or
    None when it may: ``adopt``, the service's default, CLOSED, or the document it would write."""
    found = current.get("policies") or []
    if (
        adopt
        or model.is_service_default(found)
        or model.same_document(found, model.closed_policies(organization))
        or model.same_document(found, desired)
    ):
        return None
    return (
        f"issuer {issuer_id} of organization {organization!r} already holds a policy document this resource "
        f"did not write (service version {current.get('version')}: {_summary(found)}); nothing was changed. "
        "If you renamed or moved this resource, give it its old name so Pulumi knows it is the same one: "
        "opts=ResourceOptions(aliases=[pulumi.Alias(name='OLD_NAME')]) (parent=... for a move). "
        "To take the document over on purpose, set adopt=True (the stack's config: adoptIssuer: true)"
    )


def version_text(version: Any) -> str:
    """A document version as the service writes it: state keeps numbers as floats (the engine's
    protobuf Struct has no integers), and "version 3.0" reads as a different thing than 3."""
    if isinstance(version, float) and version.is_integer():
        return str(int(version))
    return str(version)


def release_refusal(current: Mapping[str, Any], props: Mapping[str, Any], resource_id: str) -> str | None:
    """Why ``delete`` must leave the document alone (None: it is still this resource's, close it).
    The service's ``version`` changes with every write (``wire.POLICY_VERSION_STEP``), so another
    version is someone else's."""
    found, mine = current.get("version"), props.get("version")
    if found == mine and mine is not None:
        return None
    return (
        f"OidcIssuerPolicy {resource_id}: left the issuer's policies as they are instead of closing them: "
        f"the service holds version {version_text(found)}, this resource wrote version {version_text(mine)}; "
        "they were written since "
        "(by a renamed or moved copy of this resource, another stack or a person), so they are not this "
        "resource's to remove"
    )


class WriteConflict(NamedTuple):
    """What ``write_conflict`` found: the version read, the version answered, and how many of this
    stack's sends may have been applied (``client.Answer.attempts``; counted only when the answer
    holds the document sent)."""

    read: int
    answered: int
    sends: int = 1

    @property
    def expected(self) -> str:
        """The answered versions this stack's own sends explain: '5', or '5 to 6' for two sends."""
        low, high = self.read + wire.POLICY_VERSION_STEP, self.read + self.sends * wire.POLICY_VERSION_STEP
        return str(low) if low == high else f"{low} to {high}"

    def describe(self) -> str:
        """'answered as version 7, not 5 to 6 (this stack sent it 2 times, ...)'."""
        text = f"answered as version {self.answered}, not {self.expected}"
        if self.sends > 1:
            text += (
                f" (this stack sent it {self.sends} times, the earlier answers lost, so its own sends "
                f"explain at most {self.sends} versions)"
            )
        return text


def write_conflict(
    read: Mapping[str, Any], answer: Mapping[str, Any], *, sent: Sequence[Any] | None = None, attempts: int = 1
) -> WriteConflict | None:
    """A write by someone else since the GET that ``read`` the document, as the PATCH's ``answer``
    shows it; None when there is none to see, or either answer carries no integer version.

    Each write moves ``version`` by ``wire.POLICY_VERSION_STEP`` (an UNCONFIRMED assumption,
    written down there). A PATCH sent once must be answered with the version read plus one step.

    A PATCH the client resent (``attempts`` > 1, ``client.Answer.attempts``: its answer was lost
    after the service may have applied it) moved the version once per send that was applied: at
    least once (the last send was answered) and at most ``attempts`` times. So an answer of the
    version read plus 1 to ``attempts`` steps is explained by this stack's own sends, and is no
    conflict, when the answer holds exactly the document ``sent`` (``policy.same_document``).
    Anything higher is a write by someone else: reported, naming the sends. The argument:

    * A false conflict on every lost answer would tell the user that someone else wrote when
      nobody did, and the advice (refresh, tell whoever else manages the issuer) would be wrong;
      a warning that is wrong most of the times it fires teaches people to ignore it.
    * What is accepted can hide another write only inside a narrow window: after this stack's
      GET and before its last send, and only if one of its sends was not applied after all (a
      5xx or a dropped connection before the write: the client cannot tell which). The service
      has no conditional write and keeps no history, so no further request could tell that write
      from this stack's own; the PATCH's answer is all there is, and this rule adds no request.
    * What the user relies on still holds in that case: the service holds exactly the document
      this stack sent (the answer says so: that is why ``sent`` is compared), and the stack's
      state records it with the version the service answered, so the next read sees no drift.
      A write before the GET is still caught by the GET (``update``'s version check,
      ``takeover_refusal``), and one after the PATCH by the next ``update`` or ``delete``.
    * An answer whose document is not the one sent is never explained away: the strict rule
      (read plus one step) applies.
    """
    before, after = read.get("version"), answer.get("version")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (before, after)):
        return None
    own = 1
    if attempts > 1 and sent is not None and model.same_document(answer.get("policies") or [], sent):
        own = attempts
    if before + wire.POLICY_VERSION_STEP <= after <= before + own * wire.POLICY_VERSION_STEP:
        return None
    return WriteConflict(before, after, own)


def lost_write_message(issuer_id: str, conflict: WriteConflict) -> str:
    """For create and update: another write came between this stack's read and its write, and
    this stack's policies replaced it (the service offers no conditional write to prevent it)."""
    return (
        f"the policies of issuer {issuer_id} were written by someone else (another stack or a person) while "
        f"this stack was writing them: it read version {conflict.read}, and its write was {conflict.describe()}. "
        "That other write was replaced by this stack's policies, which the service now holds: tell whoever "
        "else manages this issuer. Run `pulumi refresh`, then `pulumi up`."
    )


def closed_someone_elses_message(resource_id: str, conflict: WriteConflict) -> str:
    """For delete: the document closed may not have been this resource's."""
    return (
        f"OidcIssuerPolicy {resource_id}: closed the issuer's policies, but another write (another stack or "
        f"a person) came between this resource's check (version {conflict.read}, the one it wrote) and its close "
        f"({conflict.describe()}): the document just closed was probably someone else's, and the issuer now "
        "refuses every token. Ask whoever wrote it to apply it again (e.g. `pulumi up` on their stack). Run "
        "`pulumi refresh`, then the destroy again to finish."
    )


def outputs(props: Mapping[str, Any], org: str, issuer_id: str, server: Mapping[str, Any]) -> dict[str, Any]:
    outs = inputs_only(props, INPUT_KEYS)
    outs.update(
        organization=org,
        issuer_id=issuer_id,
        policy_id=server["id"],
        version=server.get("version"),
        policies=[python_form(p) for p in server.get("policies") or []],
    )
    return outs


def diff_props(olds: Mapping[str, Any], news: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(changed keys, keys forcing a replacement). Policy order matters: it is the document.
    ``adopt`` only matters at create and ``fix_phrasing`` only words messages, so changing
    either is no change."""
    changed = [
        k
        for k in INPUT_KEYS
        if k not in ("adopt", "fix_phrasing") and (is_unknown(news.get(k)) or news.get(k) != olds.get(k))
    ]
    return changed, [k for k in changed if k in REPLACE_KEYS]


# ---------------------------------------------------------------------------------------------
# The dynamic provider


class OidcIssuerPolicyProvider(CloudResourceProvider):
    """Replaces an issuer's policy document; never overwrites or closes one it does not own."""

    validate_inputs = staticmethod(validate)
    diff_inputs = staticmethod(diff_props)

    def create(self, props: dict[str, Any]) -> CreateResult:
        org, issuer_id = props["organization"], props["issuer_id"]
        with self._client() as client:
            server = write_document(client, org, issuer_id, props["policies"], adopt=bool(props.get("adopt")))
        return CreateResult(f"{org}/{issuer_id}", outputs(props, org, issuer_id, server))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        org, issuer_id = split_id(id_, "OidcIssuerPolicy")
        with self._client() as client:
            try:
                server = client.get_auth_policy(org, issuer_id)
            except PulumiCloudError as e:
                if is_gone(e):
                    return ReadResult("", {})
                raise
        outs = outputs(props, org, issuer_id, server)
        return ReadResult(id_, outs, inputs_only(outs, INPUT_KEYS))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        org, issuer_id = split_id(id_, "OidcIssuerPolicy")
        if news.get("policies") == olds.get("policies"):
            # Only lint settings changed: nothing to send. The old outputs keep what the service
            # said; the inputs are the new ones only (a waiver or an issuer_url removed is gone, or
            # every later preview would show it as a change).
            kept = {k: v for k, v in olds.items() if k not in INPUT_KEYS}
            return UpdateResult({**kept, **inputs_only(news, INPUT_KEYS)})
        with self._client() as client:
            current = read_document_at(client, org, issuer_id, olds.get("version"))
            server = overwrite_document(client, org, issuer_id, current, news["policies"])
        return UpdateResult(outputs(news, org, issuer_id, server))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        org, issuer_id = split_id(id_, "OidcIssuerPolicy")
        with self._client() as client:
            try:
                current = client.get_auth_policy(org, issuer_id)
                refusal = release_refusal(current, props, id_)
                if refusal:
                    # The engine shows a provider's stderr to the user; the host has no other channel.
                    print(refusal, file=sys.stderr, flush=True)
                    return
                closed = model.closed_policies(org)
                server = client.update_auth_policy(org, current["id"], closed)
            except PulumiCloudError as e:
                if not is_gone(e):
                    raise
                return
        conflict = write_conflict(current, server, sent=closed, attempts=server.attempts)
        if conflict:
            raise ConcurrentChangeError(
                409, closed_someone_elses_message(id_, conflict), operation="delete authorization policy"
            )


def write_document(
    client: PulumiCloudClient, org: str, issuer_id: str, policies: Sequence[Mapping[str, Any]], *, adopt: bool
) -> Answer | dict[str, Any]:
    """Create's write: the issuer's document becomes ``policies``, unless it belongs to someone
    (``takeover_refusal``: nothing is written then). The service's answer (or, adopting the very
    document it holds, its GET answer)."""
    desired = _wire(policies)
    current = client.get_auth_policy(org, issuer_id)
    refusal = takeover_refusal(current, organization=org, issuer_id=issuer_id, desired=desired, adopt=adopt)
    if refusal:
        raise DocumentOwnedError(409, refusal, operation="create authorization policy")
    if adopt and model.same_document(current.get("policies") or [], desired):
        # Adopting what the service already holds: no write (the first `pulumi up` of an
        # imported program changes nothing). Only with adopt: without it, writing the same
        # document again gives it a new version, which is what tells a renamed resource's
        # old name not to close it on delete (``release_refusal``).
        return current
    server = client.update_auth_policy(org, current["id"], desired)
    _raise_if_replaced(current, server, desired, issuer_id, "create authorization policy")
    return server


def read_document_at(client: PulumiCloudClient, org: str, issuer_id: str, state_version: Any) -> dict[str, Any]:
    """The issuer's document, refused (``ConcurrentChangeError``, nothing written) when its
    version is not ``state_version``, the one this stack last saw."""
    current = client.get_auth_policy(org, issuer_id)
    if current.get("version") != state_version:
        raise ConcurrentChangeError(
            409,
            f"the policies of issuer {issuer_id} were changed outside this stack (service version "
            f"{version_text(current.get('version'))}, stack state version {version_text(state_version)}); "
            "run `pulumi refresh` to see the change, then `pulumi up` to apply yours",
            operation="update authorization policy",
        )
    return current


def overwrite_document(
    client: PulumiCloudClient, org: str, issuer_id: str, current: Mapping[str, Any], policies: Sequence[Mapping[str, Any]]
) -> Answer:
    """Replaces the document ``read_document_at`` read; a write by someone else in between is
    reported (``write_conflict``)."""
    desired = _wire(policies)
    server = client.update_auth_policy(org, current["id"], desired)
    _raise_if_replaced(current, server, desired, issuer_id, "update authorization policy")
    return server


def _raise_if_replaced(
    read: Mapping[str, Any], answer: Answer, sent: Sequence[Any], issuer_id: str, operation: str
) -> None:
    conflict = write_conflict(read, answer, sent=sent, attempts=answer.attempts)
    if conflict:
        raise ConcurrentChangeError(409, lost_write_message(issuer_id, conflict), operation=operation)


def _wire(policies: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return model.policies_to_wire(model.parse_policies(list(policies)))


# ---------------------------------------------------------------------------------------------
# The resource (program side)


def _program_form(item: Any) -> Any:
    return item.to_python() if isinstance(item, model.Policy) else item


def skipped_rules_warning(issuer_url_known: bool, where: str = "python") -> str | None:
    """The warning for a policy linted without its issuer URL: which rules did not run, and how
    to let them run. None when the URL is known."""
    if issuer_url_known:
        return None
    from .lint import RULES

    skipped = [r.id for r in RULES.values() if r.needs == "issuer_url"]
    how = (
        "set issuerUrl"
        if where == "config"
        else "pass issuer=<OidcIssuer> (or issuer_url=issuer.url, known at preview when the URL is a plain string)"
    )
    return (
        f"issuer-specific lint rules skipped ({', '.join(skipped)}): the issuer URL is not known "
        f"(unset, or an output not known until the issuer exists), so e.g. a GitHub policy without "
        f"repository_owner_id is not reported; {how}"
    )


def _warn_lint(args: list[Any], resource: pulumi.Resource, where: str) -> None:
    policies, issuer_url, org, waivers = args
    try:
        parsed = model.parse_policies(policies)
    except model.PolicyError:
        return  # check reports these, with the property named
    if issuer_url is None:
        _warn_skipped(False, resource, where)
    _failures, warnings, waived = lint_problems(parsed, issuer_url=issuer_url, organization=org, waivers=waivers,
                                                where=where)
    for f in warnings:
        pulumi.log.warn(f.text(where), resource=resource)
    line = waived_errors_line(waived)
    if line:
        pulumi.log.info(line, resource=resource)


def waived_errors_line(waived: Sequence[Any]) -> str | None:
    """The one line a reviewer needs at preview: which lint errors are waived, and why."""
    errors = [f for f in waived if f.severity == "error"]
    if not errors:
        return None
    reasons: dict[str, str] = {}
    for f in errors:
        reasons.setdefault(f.id, f.waiver or "")
    listed = "; ".join(f"{rule} ({reason})" for rule, reason in reasons.items())
    return f"lint errors waived ({len(errors)}): {listed}"


def _warn_skipped(known: bool, resource: pulumi.Resource, where: str) -> None:
    message = skipped_rules_warning(known, where)
    if message:
        pulumi.log.warn(message, resource=resource)


class OidcIssuerPolicy(Resource, module="oidc", name="OidcIssuerPolicy"):
    """The ordered authorization policies of one OIDC issuer.

    ``policies`` is a list of ``provider.policy.Policy`` objects or dicts (snake_case or the API's
    keys): ``decision``, ``token_type``, ``team_name``/``user_login``/``runner_id``, ``role_id``,
    ``authorized_permissions``, ``rules`` (claim path -> pattern).

    Name the issuer with ``issuer=<OidcIssuer>`` (its id, organization and URL are taken from
    it; the URL feeds the issuer-specific lint rules at the first preview), or with
    ``issuer_id`` (+ ``organization``, and ``issuer_url`` for those rules). When the issuer URL
    is unknown, preview warns which rules were skipped. ``lint_waivers`` maps a rule id to the
    reason it is accepted. Lint errors fail ``pulumi preview``; warnings are logged.
    ``fix_phrasing="config"`` words fixes as this project's stack config keys (the stack sets it).

    One document, one owner: creating refuses to overwrite policies this resource did not write
    (a rename or a move needs ``aliases``); ``adopt=True`` takes over whatever the issuer holds
    (a document made in the console). Deleting closes the issuer, unless the document was
    written since by someone else: then it is left as it is. A write by someone else between
    this resource's read and its own write cannot be prevented (the service has no conditional
    write); it is reported as a ``ConcurrentChangeError`` naming both versions.
    """

    organization: pulumi.Output[str]
    issuer_id: pulumi.Output[str]
    policies: pulumi.Output[list]
    policy_id: pulumi.Output[str]
    version: pulumi.Output[int]
    issuer_url: pulumi.Output[Optional[str]]
    lint_waivers: pulumi.Output[Optional[dict]]

    def __init__(
        self,
        resource_name: str,
        *,
        organization: pulumi.Input[str] | None = None,
        issuer_id: pulumi.Input[str] | None = None,
        policies: pulumi.Input[Sequence[Any]],
        issuer: OidcIssuer | None = None,
        issuer_url: pulumi.Input[str] | None = None,
        lint_waivers: Mapping[str, str] | None = None,
        adopt: bool = False,
        fix_phrasing: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        if issuer is not None:
            if not isinstance(issuer, OidcIssuer):
                raise TypeError(f"issuer: {issuer!r} is not an OidcIssuer; pass issuer=<OidcIssuer>, or issuer_id=...")
            if issuer_id is not None:
                raise TypeError("issuer: given together with issuer_id; pass one of them (issuer= names the id)")
            issuer_id = issuer.issuer_id
            organization = organization if organization is not None else issuer.organization
            if issuer_url is None:
                plain = getattr(issuer, "_url_input", None)
                issuer_url = plain if plain is not None else issuer.url
        missing = [k for k, v in (("organization", organization), ("issuer_id", issuer_id)) if v is None]
        if missing:
            raise TypeError(f"OidcIssuerPolicy: missing {', '.join(missing)}; pass issuer=<OidcIssuer> or {', '.join(missing)}=...")
        where = fix_phrasing or "python"
        if isinstance(policies, (list, tuple)):
            policies = [_program_form(p) for p in policies]
        props = {
            "organization": organization,
            "issuer_id": issuer_id,
            "policies": policies,
            "issuer_url": issuer_url,
            "lint_waivers": dict(lint_waivers) if lint_waivers else None,
            "adopt": adopt,
            "fix_phrasing": fix_phrasing,
            **{key: None for key in OUTPUT_KEYS},
        }
        super().__init__(OidcIssuerPolicyProvider(), resource_name, props, opts)
        with_values((policies, issuer_url, organization, props["lint_waivers"]), lambda args: _warn_lint(args, self, where))
        # An apply never runs on an unknown value, so whether the URL is known is asked directly.
        if isinstance(issuer_url, pulumi.Output):
            pulumi.Output.from_input(issuer_url.is_known()).apply(lambda known: _warn_skipped(known, self, where))
