"""A small client for the Pulumi Cloud REST endpoints this project uses.

One ``requests`` session per retry rule, ``Authorization: token <PAT>``, ``Accept:
application/vnd.pulumi+8``, JSON bodies, a timeout on every call and one error type. The token
is never logged and never part of an error message: an answer that echoes the access token or the
workload token has them scrubbed, in escaped forms too (``_failure``, the one error path), before
it is cut short; an access token with a line break or another control character is never sent.

The one retry rule: on 429, 500, 502, 503, 504 and dropped connections, retry with exponential
backoff and jitter, honouring ``Retry-After``, within a bounded budget.

* GET, PATCH and DELETE always retry (they are idempotent here: a PATCH replaces a document).
  The policy PATCH's answer is an ``Answer``: its ``attempts`` says how many times the request may
  have been applied (a resent PATCH moves the document's version once per send).
* The token-exchange POST retries like the Pulumi CLI (a second token is harmless).
* The issuer-registering POST retries by itself only when the request cannot have been applied
  (connection refused, 429). After any other failure it first looks the issuer up by URL, and only
  registers again when the issuer is not there: a retry never registers a second issuer.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import threading
from urllib.parse import quote, quote_plus
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError
from urllib3.util.retry import Retry

from . import wire
from .errors import Answer, InvalidCredentialError, MissingCredentialError, PulumiCloudError
from .policy import TOKEN_TYPES
from .settings import access_token_problem
from .urls import api_url_problem, path_segment_problem

TIMEOUT = (10, 60)
"""(connect, read) seconds for every request."""


class _KeptSessions(threading.local):
    """Per thread, the sessions that clients made with ``keep_alive=True`` share: their
    connections stay open from one client to the next (a provider process makes a client per
    operation). Per thread because a ``requests.Session`` is not documented as thread-safe."""

    def __init__(self) -> None:
        self.sessions: dict[tuple[Any, ...], requests.Session] = {}


_KEPT = _KeptSessions()


@dataclass(frozen=True)
class RetryBudget:
    """How hard to retry. The defaults suit Pulumi Cloud; tests shrink ``backoff_factor``."""

    attempts: int = 5
    backoff_factor: float = 0.5
    backoff_max: float = 20.0
    jitter: float = 0.5
    retry_after_max: int = 60

    def retry(self, *, methods: Iterable[str], statuses: Iterable[int], read: bool) -> Retry:
        # Without read retries the request may have been applied: retry only what was refused.
        cls = Retry if read else _RetryOnlyUnapplied
        return cls(
            total=self.attempts,
            connect=self.attempts,
            read=self.attempts if read else 0,
            status=self.attempts,
            other=0,
            redirect=0,
            allowed_methods=frozenset(methods),
            status_forcelist=frozenset(statuses),
            backoff_factor=self.backoff_factor,
            backoff_max=self.backoff_max,
            backoff_jitter=self.jitter,
            respect_retry_after_header=True,
            retry_after_max=self.retry_after_max,
            raise_on_status=False,
        )


class _RetryOnlyUnapplied(Retry):
    """For the issuer-registering POST: a 503 with ``Retry-After`` may have been applied, so only
    a 429 (refused before any work) is retried by the transport."""

    RETRY_AFTER_STATUS_CODES = frozenset({429})


def exchange_form(
    *,
    organization: str,
    subject_token: str,
    requested_token_type: str,
    scope: str,
    expiration: int,
) -> dict[str, str]:
    """The token-exchange body exactly as the Pulumi CLI sends it (form-encoded fields)."""
    return {
        "audience": wire.audience_for(organization),
        "expiration": str(int(expiration)),
        "grant_type": wire.GRANT_TYPE_TOKEN_EXCHANGE,
        "requested_token_type": requested_token_type,
        "scope": scope,
        "subject_token": subject_token,
        "subject_token_type": wire.SUBJECT_TOKEN_TYPE_ID_TOKEN,
    }


MAX_MESSAGE_CHARS = 500
"""How much of a service message an error keeps (after secrets are scrubbed)."""
REDACTED = "<redacted>"


_LINE_BREAKS = re.compile(r"[\x00-\x20\x7f-\x9f\u2028\u2029]+")
MIN_SCRUBBED_PIECE = 8
"""The shortest piece of a token split at its line breaks that is scrubbed on its own."""


def secret_forms(secret: str) -> set[str]:
    """``secret`` as an answer or an exception may quote it: raw, escaped as ``repr()``, JSON
    (ASCII or not) and ``unicode_escape`` write it, percent-encoded (a path or a form body),
    as a bytes ``repr()``, and each piece of it between line breaks or other control characters
    (an echo that split it into lines), when that piece is ``MIN_SCRUBBED_PIECE`` long or more."""
    if not secret:
        return set()
    forms = {
        secret,
        repr(secret)[1:-1],
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        secret.encode("unicode_escape").decode("ascii"),
        quote(secret, safe=""),
        quote_plus(secret),
        repr(secret.encode("utf-8", "surrogatepass"))[2:-1],
    }
    forms.update(p for p in _LINE_BREAKS.split(secret) if len(p) >= MIN_SCRUBBED_PIECE)
    return {f for f in forms if f}


def _failure(status: int, message: Any, code: Any, operation: str, secrets: Iterable[str]) -> PulumiCloudError:
    """The one way this client builds an error from what it received: every known secret (the
    access token, the workload token), in every form it may be quoted in (``secret_forms``), is
    replaced in the message and the code *before* the message is cut to ``MAX_MESSAGE_CHARS``,
    so a cut can never leave part of a token behind."""
    known = sorted({form for s in secrets if s for form in secret_forms(s)}, key=len, reverse=True)

    def scrub(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        for secret in known:
            value = value.replace(secret, REDACTED)
        return value

    if code is not None and not isinstance(code, (str, int)):
        code = str(code)
    text = scrub(str(message).strip())
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[:MAX_MESSAGE_CHARS] + "..."
    return PulumiCloudError(status, text or "no message", scrub(code), operation=operation)


def _error_from(response: requests.Response, operation: str, secrets: Iterable[str]) -> PulumiCloudError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, Mapping):
        if "error" in body:  # OAuth form, from /api/oauth/token
            message = body.get("error_description") or body["error"]
            return _failure(response.status_code, message, body["error"], operation, secrets)
        if "message" in body:
            return _failure(response.status_code, body["message"], body.get("code"), operation, secrets)
    return _failure(response.status_code, response.text or response.reason or "", None, operation, secrets)


class PulumiCloudClient:
    """Calls the Pulumi Cloud REST API.

    ``access_token`` may be None: every call that needs it then fails with
    ``MissingCredentialError`` (so a preview, which needs no HTTP, works without credentials);
    one that cannot travel in a header (a line break, ...) fails them with
    ``InvalidCredentialError`` naming ``token_source``, before anything is sent.
    The instance is cheap; create one per operation (``requests`` sessions are not thread-safe).
    """

    def __init__(
        self,
        api_url: str = wire.DEFAULT_API_URL,
        access_token: str | None = None,
        *,
        budget: RetryBudget | None = None,
        user_agent: str = "pulumi-oidc-trust/0.1",
        token_source: str | None = None,
        keep_alive: bool = False,
    ):
        problem = api_url_problem(api_url)
        if problem:  # before any session exists: nothing is ever sent to such a URL
            raise PulumiCloudError(0, f"API URL {problem}", "invalid_api_url")
        self.api_url = api_url.rstrip("/")
        self._token = access_token
        # Checked now, reported by the first call that would send it (as a missing token is).
        self._token_problem = access_token_problem(access_token, token_source)
        budget = budget or RetryBudget()
        headers = {"Accept": wire.ACCEPT, "User-Agent": user_agent}
        self._kept = keep_alive

        def session(kind: str, retry: Callable[[], Retry]) -> requests.Session:
            if not keep_alive:
                return self._make_session(retry(), headers, self.api_url)
            key = (kind, self.api_url, user_agent, budget)
            kept = _KEPT.sessions.get(key)
            if kept is None:
                kept = _KEPT.sessions[key] = self._make_session(retry(), headers, self.api_url)
            return kept

        self._session = session(
            "any",
            lambda: budget.retry(methods={"GET", "PATCH", "DELETE", "POST"}, statuses=wire.RETRY_STATUSES, read=True),
        )
        self._register_session = session("register", lambda: budget.retry(methods={"POST"}, statuses={429}, read=False))

    def __repr__(self) -> str:  # never show the token
        return f"PulumiCloudClient({self.api_url!r})"

    @staticmethod
    def _make_session(retry: Retry, headers: Mapping[str, str], api_url: str) -> requests.Session:
        """A session carrying no credential and no cookie (the token goes on each request). The
        environment's proxy and CA-bundle settings (``HTTPS_PROXY``, ``NO_PROXY``,
        ``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``) are read here, once, instead of at every
        request (requests' ``trust_env``); ``~/.netrc`` is never read (it could replace the
        ``Authorization`` header)."""
        session = requests.Session()
        session.headers.update(headers)
        session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        session.trust_env = False
        session.proxies.update(requests.utils.get_environ_proxies(api_url))
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle:
            session.verify = bundle
        adapter = HTTPAdapter(max_retries=retry)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def close(self) -> None:
        if self._kept:
            return  # the thread's kept sessions outlive this client (``keep_alive``)
        self._session.close()
        self._register_session.close()

    def __enter__(self) -> "PulumiCloudClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- transport --------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        body: Any = None,
        session: requests.Session | None = None,
        authorized: bool = True,
        form: Mapping[str, str] | None = None,
        expect: Iterable[int] = (200,),
        secrets: Iterable[str] = (),
        count_attempts: bool = False,
    ) -> Any:
        """The JSON answer (None for an empty one); with ``count_attempts``, an ``Answer``."""
        secrets = (self._token or "", *secrets)
        headers = {}
        if authorized:
            if not self._token:
                raise MissingCredentialError(operation)
            if self._token_problem:
                raise InvalidCredentialError(self._token_problem, operation)
            headers["Authorization"] = f"token {self._token}"
        kwargs: dict[str, Any] = {"headers": headers, "timeout": TIMEOUT, "allow_redirects": False}
        if form is not None:
            kwargs["data"] = form
        elif body is not None:
            kwargs["json"] = body
        try:
            response = (session or self._session).request(method, self.api_url + path, **kwargs)
        except requests.RequestException as e:
            # The exception text can carry the URL but never headers; keep only its class and reason.
            raise _failure(0, _no_answer(e, self.api_url), "connection", operation, secrets) from None
        if response.status_code not in tuple(expect):
            raise _error_from(response, operation, secrets)
        if response.status_code == 204 or not response.content:
            return None
        try:
            answer = response.json()
        except ValueError:
            raise PulumiCloudError(response.status_code, "answer is not JSON", operation=operation) from None
        if count_attempts:
            if not isinstance(answer, dict):
                raise PulumiCloudError(response.status_code, "answer is not a JSON object", operation=operation)
            return Answer(answer, _attempts(response))
        return answer

    # -- issuers ----------------------------------------------------------------------------

    def _issuers(self, org: str) -> str:
        return f"/api/orgs/{_seg(org)}/oidc/issuers"

    def list_issuers(self, org: str) -> list[dict[str, Any]]:
        body = self._request("GET", self._issuers(org), operation="list OIDC issuers")
        return list(body.get("oidcIssuers") or [])

    def existing_issuers(self, org: str) -> list[dict[str, Any]]:
        """The issuers of ``org``, as a look-up before registering reads them. A 404 for the list is
        "none": an organization with no issuer yet may be unknown to the service (the emulator
        creates one with its first issuer), and the registration that follows says whether ``org``
        exists."""
        try:
            return self.list_issuers(org)
        except PulumiCloudError as e:
            if e.status != 404:
                raise
            return []

    def find_issuer_by_url(self, org: str, url: str) -> dict[str, Any] | None:
        """The issuer of ``org`` registered at ``url``, or None (``existing_issuers``)."""
        wanted = url.rstrip("/")
        for issuer in self.existing_issuers(org):
            if str(issuer.get("url", "")).rstrip("/") == wanted:
                return issuer
        return None

    def get_issuer(self, org: str, issuer_id: str) -> dict[str, Any]:
        return self._request("GET", f"{self._issuers(org)}/{_seg(issuer_id)}", operation="get OIDC issuer")

    def register_issuer(self, org: str, request: Mapping[str, Any], *, attempts: int = 3) -> dict[str, Any]:
        """Register an issuer; never registers a second one for the same URL (module docstring)."""
        operation = "register OIDC issuer"
        last: PulumiCloudError | None = None
        for _ in range(attempts):
            if last is not None:
                found = self.find_issuer_by_url(org, request["url"])
                if found is not None:
                    return found
            try:
                return self._request(
                    "POST", self._issuers(org), body=dict(request), session=self._register_session, operation=operation
                )
            except PulumiCloudError as e:
                if not _maybe_applied(e):
                    raise
                last = e
        found = self.find_issuer_by_url(org, request["url"])
        if found is not None:
            return found
        assert last is not None
        raise last

    def update_issuer(self, org: str, issuer_id: str, request: Mapping[str, Any]) -> dict[str, Any]:
        return self._request(
            "PATCH", f"{self._issuers(org)}/{_seg(issuer_id)}", body=dict(request), operation="update OIDC issuer"
        )

    def delete_issuer(self, org: str, issuer_id: str) -> None:
        self._request(
            "DELETE", f"{self._issuers(org)}/{_seg(issuer_id)}", operation="delete OIDC issuer", expect=(200, 204)
        )

    def regenerate_thumbprints(self, org: str, issuer_id: str) -> dict[str, Any]:
        # A POST that only re-reads certificates: safe to retry like a GET.
        return self._request(
            "POST",
            f"{self._issuers(org)}/{_seg(issuer_id)}/regenerate-thumbprints",
            operation="regenerate thumbprints",
        )

    # -- authorization policies -------------------------------------------------------------

    def get_auth_policy(self, org: str, issuer_id: str) -> dict[str, Any]:
        return self._request(
            "GET",
            f"/api/orgs/{_seg(org)}/auth/policies/oidcissuers/{_seg(issuer_id)}",
            operation="get authorization policy",
        )

    def update_auth_policy(self, org: str, policy_id: str, policies: list[Mapping[str, Any]]) -> Answer:
        """Replace the document; the answer's ``attempts`` counts the sends that may have been applied."""
        return self._request(
            "PATCH",
            f"/api/orgs/{_seg(org)}/auth/policies/{_seg(policy_id)}",
            body={"policies": [dict(p) for p in policies]},
            operation="update authorization policy",
            count_attempts=True,
        )

    # -- token exchange and identity --------------------------------------------------------

    def exchange_token(
        self,
        *,
        organization: str,
        subject_token: str,
        token_type: str = "organization",
        scope: str = "",
        expiration: int = wire.DEFAULT_EXCHANGE_EXPIRATION,
    ) -> dict[str, Any]:
        """RFC 8693 exchange of a workload token for a Pulumi access token (no Authorization).

        Returns the service's answer: ``access_token``, ``issued_token_type``, ``expires_in``, ...
        """
        form = exchange_form(
            organization=organization,
            subject_token=subject_token,
            requested_token_type=TOKEN_TYPES[token_type].urn,
            scope=scope,
            expiration=expiration,
        )
        return self._request(
            "POST", "/api/oauth/token", form=form, authorized=False, operation="token exchange", secrets=(subject_token,)
        )

    def current_user(self) -> dict[str, Any]:
        return self._request("GET", "/api/user", operation="get current user")


def _seg(value: str) -> str:
    """One path segment. '.', '..' and '/' are refused before anything is sent (they would move
    the authenticated request to another route); everything else is percent-encoded."""
    problem = path_segment_problem(value, "an organization name or an id")
    if problem:
        raise PulumiCloudError(0, f"refusing to build the request path: {problem}", "invalid_path_segment")
    return quote(str(value), safe="")


def _no_answer(e: requests.RequestException, api_url: str) -> str:
    """Why no answer came, in a user's words, and the fix. requests' own text ("HTTPConnectionPool(
    host=..., port=...): Max retries exceeded ... (Caused by NewConnectionError(...))") is not shown."""
    text = str(e)
    fix = "check the API URL (oidc:apiUrl, --api-url or OIDC_TRUST_API_URL) and that the service runs there"
    if isinstance(e, requests.exceptions.SSLError):
        return f"no answer from {api_url}: the TLS handshake failed (its certificate is not trusted here?); {fix}"
    if isinstance(e, requests.Timeout):
        return f"no answer from {api_url} within {TIMEOUT[1]} s; {fix}"
    if "refused" in text.lower():
        return f"nothing answers at {api_url} (connection refused); {fix}"
    if any(s in text for s in ("Name or service not known", "nodename nor servname", "getaddrinfo", "NameResolution")):
        return f"no answer from {api_url}: its host name is not known; {fix}"
    return f"no answer from {api_url} (the connection failed: {type(e).__name__}); {fix}"


def _maybe_applied_status(status: int) -> bool:
    """Could a request answered with this error status have been applied? A 5xx may come after
    the write; a 4xx (429 included: ``_RetryOnlyUnapplied``) is a refusal before any work."""
    return status >= 500


def _maybe_applied(e: PulumiCloudError) -> bool:
    """Could a failed POST have been applied by the service?"""
    if e.status == 0:
        return e.code == "connection"
    return _maybe_applied_status(e.status)


def _attempts(response: requests.Response) -> int:
    """How many times the request that got ``response`` may have been applied: this last send,
    plus each send the transport retried after a failure that came once the request was out (an
    error status that ``_maybe_applied_status`` allows, a dropped connection, a read timeout).
    A connection that never opened and a 429 are not counted: nothing reached the service.
    Read from urllib3's own record of the retries (``Retry.history``)."""
    retries = getattr(response.raw, "retries", None)
    history = retries.history if retries is not None else ()
    return 1 + sum(
        1
        for h in history
        if (_maybe_applied_status(h.status) if h.status is not None else not _never_sent(h.error))
    )


def _never_sent(error: Exception | None) -> bool:
    """urllib3's test for a failure before the request left (``Retry._is_connection_error``)."""
    error = getattr(error, "original_error", error)  # a ProxyError wraps the cause
    return isinstance(error, ConnectTimeoutError)
