"""Pulumi ESC's environment listing and the default-organization lookup, as `pulumi env ls` and
`pulumi login` call them (research/pulumi_cli_from_modules.md §3.1 step 7 and §3.3).

Environments are seeded when the emulator starts (``--esc-environment ORG/PROJECT/NAME``); they
have no content, only names: enough for the demo flow "exchange, then list environments" and to
show that a token of one organization sees none of another's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from . import errors
from .http_types import Call, Reply


@dataclass(frozen=True, order=True)
class Environment:
    organization: str
    project: str
    name: str

    @classmethod
    def parse(cls, text: str) -> "Environment":
        parts = text.split("/")
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"ESC environment {text!r}: write it as ORG/PROJECT/NAME, e.g. acme/infra/prod")
        return cls(*parts)

    def json(self) -> dict[str, str]:
        return {"organization": self.organization, "project": self.project, "name": self.name}


class Esc:
    """The routes under ``/api/esc`` the CLI lists environments with, and the default org."""

    def __init__(self, api, environments: Iterable[Environment] = ()):
        self._api = api  # for authentication: the same tokens as every other route
        self.environments = sorted(set(environments))

    def _visible(self, call: Call, org: str | None = None) -> list[dict[str, str]]:
        principal = self._api.authenticate(call)
        return [
            env.json() for env in self.environments
            if principal.may_use(env.organization) and (org is None or env.organization == org)
        ]

    def list_environments(self, call: Call) -> Reply:
        """``GET /api/esc/environments``: every environment the caller's token may see (one page)."""
        return Reply(200, {"environments": self._visible(call), "nextToken": ""})

    def list_org_environments(self, call: Call) -> Reply:
        """``GET /api/esc/environments/{orgName}`` (``pulumi env ls -o ORG``)."""
        org = call.params["orgName"]
        if not self._api.authenticate(call).may_use(org):
            raise errors.ApiError(403, f"the token may not list environments of {org}")
        return Reply(200, {"environments": self._visible(call, org), "nextToken": ""})

    def default_organization(self, call: Call) -> Reply:
        """``GET /api/user/organizations/default``: an exchanged token's organization; the admin has none."""
        principal = self._api.authenticate(call)
        if principal.admin or principal.token is None:
            raise errors.ApiError(404, "no default organization")
        return Reply(200, {"gitHubLogin": principal.token["org"], "messages": []})
