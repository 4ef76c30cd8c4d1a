"""OidcTrust: one OIDC issuer and its authorization policies, plus (optionally) the Kubernetes
login Job they admit, as one component."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi

from pulumi_oidc_trust.provider.issuer import OidcIssuer, program_waivers
from pulumi_oidc_trust.provider.issuer_policy import OidcIssuerPolicy
from pulumi_oidc_trust.provider.policy import Policy, parse_policies
from pulumi_oidc_trust.provider.urls import issuer_url_problem

from .presets import Grant, PresetError, login_job
from .runner import OidcLoginJob
from .runner_args import RunnerArgs
from .runner_manifests import RunnerSpec, runner_spec


@dataclasses.dataclass(frozen=True)
class OidcLoginJobArgs(RunnerArgs):
    """The arguments of an ``OidcLoginJob`` that ``OidcTrust`` creates after its policy.

    ``OidcLoginJobArgs("pulumi-login", namespace="ci", team="platform", commands=[...])`` takes
    the ``OidcLoginJob`` arguments except ``organization``, which the trust supplies (a runner
    logging in to another organization than the one that trusts it could never log in): it is a
    ``RunnerArgs`` (``components.runner_args``, the one list of those arguments) plus the resource
    name and ``opts``, the Job component's own options (e.g. a Kubernetes ``provider``); the trust
    adds ``parent`` and the dependency on its policy.
    """

    resource_name: str
    organization: dataclasses.InitVar[None] = dataclasses.field(default=None, kw_only=True)
    """Refused: the runner logs in to the ``OidcTrust``'s organization."""
    opts: pulumi.ResourceOptions | None = dataclasses.field(default=None, kw_only=True)

    def __post_init__(self, organization: None) -> None:
        if organization is not None:
            raise ValueError(
                "organization: OidcLoginJobArgs takes no organization; the runner logs in to the "
                "OidcTrust's organization, so remove it"
            )

    def spec(self, organization: str) -> RunnerSpec:
        """The runner's validated arguments (raises ValueError naming a bad one)."""
        return runner_spec(self.resource_name, self, organization=organization)


class OidcTrust(pulumi.ComponentResource):
    """Trust an OIDC issuer in a Pulumi Cloud organization, with an ordered list of policies.

    Pass:
        organization: the Pulumi Cloud organization (e.g. "acme").
        issuer_url: the issuer, exactly as its tokens carry it in ``iss`` (a plain string, so
            the issuer-specific lint rules run at the first preview): ``GITHUB_ISSUER_URL``,
            ``eks_issuer_url(...)``, ... from ``components.presets``.
        policies: the ordered policies (``Policy`` objects or dicts), typically concatenated
            preset results: ``[*github_actions(...), *gitlab(...)]``.
        name: the issuer's display name in Pulumi Cloud (default: ``resource_name``).
        max_expiration_seconds: the longest Pulumi token this issuer may mint (None: the
            service default, 25 h; 3600 suits CI).
        jwks: the issuer's public keys (``{"keys": [...]}``, e.g. ``json.loads`` of ``kubectl
            get --raw /openid/v1/jwks``), uploaded so Pulumi Cloud can verify tokens of an issuer
            it cannot reach (a private cluster: OIDC025).
        thumbprints: SHA-256 fingerprints of the issuer's TLS certificate, for an issuer whose
            certificate is not publicly trusted (OIDC021 reminds you to rotate them).
        runner: ``OidcLoginJobArgs(...)``: also run an ``OidcLoginJob`` admitted by this trust
            (see below).
        runner_grant: the token the runner gets when it logs in for an organization token
            (neither ``team`` nor ``user``): ``Grant.organization(role_id=...)`` or
            ``Grant.organization(admin=True)``; required then, refused when it contradicts the
            runner's team or user (those decide the grant).
        lint_waivers: ``{rule_id: reason}``: lint findings you accept, the policies' and the
            issuer's warnings (e.g. OIDC017 for a local issuer over loopback http). Policy lint
            errors fail ``pulumi preview`` unless waived (e.g. OIDC010 for a runner with
            ``token="eks"``, whose audience is AWS's ``sts.amazonaws.com``); the issuer's never
            are.
        adopt: take over an issuer already registered at ``issuer_url`` (one created in the UI)
            and the policy document it holds, instead of failing. Without it, a document this
            trust did not write (another stack's, a person's, or this trust's under its old name
            after a rename without ``aliases``) is never overwritten.
        fix_phrasing: "python" (default) or "config": how preview words fixes (keyword
            arguments, or this project's ``pulumi config set`` keys; the stack passes "config").
        opts: the component's ResourceOptions.

    Gets: ``issuer`` (the ``OidcIssuer``), ``policy`` (the ``OidcIssuerPolicy``), ``runner``
    (the ``OidcLoginJob`` or None) and the outputs ``issuer_id``, ``policy_id``, ``issuer_url``.

    The runner. The Job's pod logs in with its service-account token, so the policy must admit
    exactly that token (its ``sub`` and ``aud``) and must exist before the pod starts. Pulumi
    fixes a resource's dependencies when it is constructed, so a Job built before this
    component could never wait for a policy built after it; and a policy built first needs the
    runner's subject. ``OidcTrust`` therefore takes the runner's *arguments* and, in order:
    resolves them with ``runner_spec`` (the pure function ``OidcLoginJob`` itself uses),
    appends the policy ``presets.login_job`` builds from that spec (``aud`` = the runner's token
    audience, ``sub`` = ``system:serviceaccount:NS:SA``), registers the issuer and the policy,
    and only then creates the ``OidcLoginJob`` with ``depends_on=[policy]``, which the runner
    passes on to its Job. One set of arguments feeds both sides, so they cannot drift. (To
    build the Job yourself instead: ``policies=[*login_job(runner_spec(NAME, **ARGS))]`` here,
    then ``OidcLoginJob(NAME, **ARGS, opts=ResourceOptions(depends_on=[trust.policy]))``.)

    Raises ValueError (or ``PolicyError``/``PresetError``, both ValueErrors) on a bad argument
    before anything is registered.
    """

    issuer_id: pulumi.Output[str]
    policy_id: pulumi.Output[str]
    issuer_url: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        organization: str,
        issuer_url: pulumi.Input[str],
        policies: Sequence[Policy | Mapping[str, Any]],
        name: str | None = None,
        max_expiration_seconds: int | None = None,
        runner: OidcLoginJobArgs | None = None,
        runner_grant: Grant | None = None,
        lint_waivers: Mapping[str, str] | None = None,
        adopt: bool = False,
        jwks: pulumi.Input[Mapping[str, Any]] | None = None,
        thumbprints: pulumi.Input[Sequence[str]] | None = None,
        fix_phrasing: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        _check_plain_arguments(organization, issuer_url, lint_waivers)
        spec = _runner_spec(runner, organization, runner_grant)
        all_policies = [*_check_policies(policies), *(_runner_policy(spec, runner_grant) if spec else [])]
        if not all_policies:
            raise ValueError(
                "policies: no policy and no runner; pass at least one policy, e.g. "
                "policies=[*github_actions(...)] (an issuer without an allow admits nothing)"
            )

        super().__init__("oidc-trust:index:OidcTrust", resource_name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.issuer = OidcIssuer(
            resource_name,
            organization=organization,
            url=issuer_url,
            name=name or resource_name,
            max_expiration_seconds=max_expiration_seconds,
            jwks=jwks,
            thumbprints=thumbprints,
            adopt=adopt,
            fix_phrasing=fix_phrasing,
            lint_waivers=lint_waivers,
            opts=child,
        )
        self.policy = OidcIssuerPolicy(
            f"{resource_name}-policy",
            organization=organization,
            issuer=self.issuer,
            policies=all_policies,
            issuer_url=issuer_url,
            lint_waivers=lint_waivers,
            adopt=adopt,
            fix_phrasing=fix_phrasing,
            opts=child,
        )
        self.runner = None
        if runner is not None:
            # Created after the policy, depending on it: the pod must not log in before trust exists.
            job_opts = pulumi.ResourceOptions.merge(
                pulumi.ResourceOptions(parent=self, depends_on=[self.policy]), runner.opts
            )
            self.runner = OidcLoginJob(
                runner.resource_name, organization=organization, **runner.as_kwargs(), opts=job_opts
            )

        self.issuer_id = self.issuer.issuer_id
        self.policy_id = self.policy.policy_id
        self.issuer_url = self.issuer.url
        self.register_outputs(
            {"issuer_id": self.issuer_id, "policy_id": self.policy_id, "issuer_url": self.issuer_url}
        )


def _check_plain_arguments(organization: Any, issuer_url: Any, lint_waivers: Any) -> None:
    if not isinstance(organization, str) or not organization.strip() or "/" in organization:
        raise ValueError(f"organization: {organization!r} is not an organization name; pass e.g. 'acme'")
    if isinstance(issuer_url, str):
        problem = issuer_url_problem(issuer_url)
        if problem:
            raise ValueError(f"issuer_url: {problem}")
    program_waivers(lint_waivers)


def _runner_spec(runner: Any, organization: str, runner_grant: Any) -> RunnerSpec | None:
    if isinstance(runner, OidcLoginJob):
        raise TypeError(
            "runner: an OidcLoginJob that already exists cannot be made to wait for this trust's policy "
            "(Pulumi fixes dependencies at construction); pass its arguments instead: "
            "runner=OidcLoginJobArgs(NAME, namespace=..., team=..., ...), and OidcTrust creates the Job "
            "after the policy"
        )
    if runner is None:
        if runner_grant is not None:
            raise ValueError("runner_grant: given without a runner; remove it, or pass runner=OidcLoginJobArgs(...)")
        return None
    if not isinstance(runner, OidcLoginJobArgs):
        raise TypeError(f"runner: {runner!r} is not OidcLoginJobArgs; pass runner=OidcLoginJobArgs(NAME, ...)")
    return runner.spec(organization)


def _runner_policy(spec: RunnerSpec, runner_grant: Grant | None) -> list[Policy]:
    try:
        return login_job(spec, grant=runner_grant)
    except PresetError as e:
        if e.argument != "grant":
            raise
        # Named as OidcTrust's caller wrote it.
        raise PresetError("runner_grant", e.problem, e.fix) from None


def _check_policies(policies: Any) -> list[Any]:
    """The policies as a list; plain ones are validated now, so a typo fails before registering."""
    if isinstance(policies, (str, Mapping)) or not isinstance(policies, Sequence):
        raise ValueError("policies: pass a list of policies, e.g. [*github_actions(...)]")
    items = list(policies)
    plain = [p.to_wire() if isinstance(p, Policy) else p for p in items]
    if items and all(_is_plain(p) for p in plain):
        parse_policies(plain)  # raises PolicyError naming each bad property
    return items


def _is_plain(value: Any) -> bool:
    """No Output anywhere inside: the value can be checked now."""
    if isinstance(value, (pulumi.Output, pulumi.Resource)):
        return False
    if isinstance(value, Mapping):
        return all(_is_plain(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(_is_plain(v) for v in value)
    return True
