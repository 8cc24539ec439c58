"""Secrets kept off screens, logs and error messages, in every spelling they leak in.

A server may echo what it was sent (the gateway header as JSON, the ESB query string), and a
traceback shows reprs: so each secret is masked as written, JSON-escaped, URL-encoded and as in a
repr, and any secret-named field's value is masked whatever it holds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import quote, quote_plus

_SECRET_NAMES = "bk_app_secret|app_secret|bk_token|bk_access_token|access_token|bk_signature"
# A secret-named field, whatever its value: `name=value` in a query string, `"name": "value"` in
# JSON and `'name': 'value'` in a Python repr.
_SECRET_FIELDS = (
    re.compile(rf"((?:{_SECRET_NAMES})=)()[^&#\s\"']*", re.IGNORECASE),
    re.compile(rf"([\"'](?:{_SECRET_NAMES})[\"']\s*:\s*)([\"'])(?:(?!\2)[^\\]|\\.)*\2", re.IGNORECASE),
)


@lru_cache(maxsize=64)  # a handful of secrets, asked about for every text the record keeps
def secret_forms(secret: str) -> frozenset[str]:
    """The ways a secret is spelled where it can leak: as is, JSON-escaped (the gateway header),
    URL-encoded (the ESB query string), and inside a Python repr."""
    if not secret:
        return frozenset()
    forms = {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        repr(secret)[1:-1],
    }
    return frozenset(f for f in forms if f)


@lru_cache(maxsize=16)
def _longest_first(secrets: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted({f for s in secrets for f in secret_forms(s)}, key=len, reverse=True))


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every form of every secret, and any secret-named field's value, masked."""
    for form in _longest_first(tuple(secrets)):  # longest first: an encoded form may contain a shorter one
        text = text.replace(form, "****")
    for pattern in _SECRET_FIELDS:
        text = pattern.sub(lambda m: f"{m.group(1)}{m.group(2)}****{m.group(2)}", text)
    return text
