"""The small request/answer types shared by the routes and the HTTP server."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from .errors import ApiError


def parse_json(body: bytes) -> Any:
    """A request body as JSON; ValueError when it is not JSON, or nests deeper than Python's
    recursion limit lets ``json`` read (a RecursionError would otherwise answer 500)."""
    try:
        return json.loads(body)
    except RecursionError:
        raise ValueError("JSON nested too deep") from None


@dataclass
class Call:
    """One HTTP request as the route handlers see it."""

    method: str
    path: str
    params: dict[str, str]
    """Path parameters from the route template (``orgName``, ``issuerId``, ...)."""
    headers: Mapping[str, str]
    body: bytes = b""

    @property
    def content_type(self) -> str:
        return (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()

    def json(self, *, required: bool = True) -> Any:
        """The body as JSON; a malformed one is the service's 400."""
        if not self.body.strip():
            if required:
                raise ApiError(400, "a JSON request body is required")
            return None
        try:
            return parse_json(self.body)
        except ValueError:
            raise ApiError(400, "the request body is not valid JSON") from None


@dataclass
class Reply:
    """An answer: status, JSON body (None: no body) and extra headers."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
