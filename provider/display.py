"""How a string we did not write is shown to a person: the one rule for ``audit`` and ``import``.

Issuer names, URLs, ids, policy patterns and the service's error texts come from Pulumi Cloud, and
anyone who may register an issuer in the organization chooses them. Shown raw, an ESC sequence
rewrites the terminal (it can hide the verdict), a line break starts a new YAML key or a new line of
generated Python, and a lone surrogate cannot even be written as UTF-8. ``shown`` makes such a
string one printable line: every character Python does not call printable (the Unicode categories
Cc, Cf, Cs, Co, Cn, Zl, Zp, and Zs but for the space: ESC, NUL, ``\\r``, ``\\n``, ``\\x85``,
``\\u2028``, bidi overrides, ...) becomes the escape ``repr`` would write for it (``\\x1b``,
``\\n``, ``\\u2028``, ``\\ud800``). Everything else, backslashes included, is left as it is, so
ordinary names read as they are.

Generated code takes such strings only as literals (``cli/importer.py``); text, YAML comments and
SARIF messages take them through ``shown``.
"""

from __future__ import annotations

_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def escape_char(char: str) -> str:
    """The escape of one non-printable character, as Python writes it in a string literal."""
    if char in _SHORT:
        return _SHORT[char]
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def shown(value: object) -> str:
    """``value`` as one printable line: each non-printable character escaped (see the module)."""
    text = value if isinstance(value, str) else str(value)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else escape_char(c) for c in text)
