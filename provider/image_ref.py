"""Container image references: the one rule for what counts as pinned.

Used by the runner's arguments (its Pulumi image and its git init image are refused unless
pinned by a version tag or a digest) and by the linter's OIDC041 (a tag without a digest is
still mutable). Pure functions over strings.
"""

from __future__ import annotations

import re
from typing import Any

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def split_image(image: str) -> tuple[str, str, str]:
    """(reference without the digest, its tag or "", its digest or "") of ``NAME[:TAG][@DIGEST]``."""
    reference, _, digest = image.partition("@")
    tag = reference.rsplit("/", 1)[-1].partition(":")[2]
    return reference, tag, digest


def has_digest(image: str) -> bool:
    """True when the image is pinned by a well-formed sha256 digest (immutable)."""
    return bool(_DIGEST.match(split_image(image)[2]))


def pinned_image_problem(image: Any, example: str) -> tuple[str, str] | None:
    """(problem, fix) when ``image`` is no pinned image reference, else None. ``example`` is a
    pinned reference to suggest (e.g. the default image)."""
    if not isinstance(image, str) or not image or any(c.isspace() or c == "\0" for c in image):
        return f"{image!r} is not an image reference", f"pass an image reference such as {example!r}"
    reference, tag, digest = split_image(image)
    if digest:
        if not _DIGEST.match(digest):
            return f"digest {digest!r} is not sha256:<64 hex digits>", "copy the digest exactly"
        return None
    if not tag or tag == "latest":
        return (
            f"{image!r} is not pinned (a missing or 'latest' tag runs whatever was pushed last)",
            f"pin a version such as {example!r}, or better a digest '{reference.partition(':')[0]}:<version>@sha256:<digest>'",
        )
    return None
