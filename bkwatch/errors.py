"""Classification of BlueKing's answers into `ErrorKind`s: the code tables of every system and
transport, HTTP statuses, rate-limit waits, and the snippet of a body that is not JSON. Kept apart
from the client (which owns transports and auth) and free of httpx, so the poller and the adapters
can use `unexpected_error` without loading the HTTP stack.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit, urlunsplit

from bkwatch.model import BkError, ErrorKind
from bkwatch.text import clean_text, html_to_text


class ApiNotFound(BkError):
    """The API path itself is not published (gateway 1640401, ESB 1306404, bare HTTP 404)."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorKind.NOT_FOUND, message)


_K = ErrorKind
# Codes with one meaning whatever the system (keys are str(code)).
_CODE_KINDS: dict[str, ErrorKind] = {
    # API gateway
    "1640001": _K.AUTH,
    "1640004": _K.AUTH,
    "1640100": _K.AUTH,
    "1640101": _K.AUTH,
    "1640102": _K.AUTH,
    "1640301": _K.PERMISSION,
    "1640302": _K.PERMISSION,
    "1642901": _K.RATE_LIMITED,
    "1642902": _K.RATE_LIMITED,
    "1642903": _K.RATE_LIMITED,
    "1642904": _K.RATE_LIMITED,
    # ESB
    "1306401": _K.AUTH,
    "1306402": _K.PERMISSION,
    "1306403": _K.PERMISSION,
    "1306429": _K.RATE_LIMITED,
    "1306201": _K.SERVER,
    "1306208": _K.BAD_RESPONSE,
    # IAM (JOB, SOPS)
    "9900403": _K.PERMISSION,
    # JOB
    "1244006": _K.NOT_FOUND,
    "1244007": _K.NOT_FOUND,
    "1247001": _K.AUTH,
    "1240002": _K.SERVER,
    # SOPS
    "3540100": _K.PERMISSION,
    "3540400": _K.NOT_FOUND,
    # NodeMan
    "3801012": _K.NOT_FOUND,
    # GSEKit
    "4102005": _K.NOT_FOUND,
    "50000": _K.SERVER,
    # BKFlow (DRF error codes)
    "not_found": _K.NOT_FOUND,
    "permission_denied": _K.PERMISSION,
    "not_authenticated": _K.AUTH,
    "authentication_failed": _K.AUTH,
}
API_NOT_FOUND_CODES = frozenset({"1640401", "1306404"})
_AUTH_WORDS = ("app secret", "app code", "bk_app_code", "bk_app_secret", "user authentication", "bk_token")
_HINTS: dict[ErrorKind, str] = {
    _K.AUTH: "check app_code / app_secret and username / token in the profile",
    _K.PERMISSION: "ask for the permission (IAM) or the gateway resource grant for this app",
    _K.RATE_LIMITED: "polling too fast for the server's limit; slowing down",
}


def status_kind(status: int) -> ErrorKind | None:
    if status == 401:
        return _K.AUTH
    if status in (403, 499):
        return _K.PERMISSION
    if status == 404:
        return _K.NOT_FOUND
    if status == 429:
        return _K.RATE_LIMITED
    if status >= 500:
        return _K.SERVER
    return None


def code_kind(code: str, message: str) -> ErrorKind | None:
    kind = _CODE_KINDS.get(code)
    if kind is not None:
        return kind
    low = message.lower()
    if code == "1306000":
        # ESB validator failures all share 1306000; older ESBs also stamp it on any SOPS failure.
        if any(w in low for w in _AUTH_WORDS):
            return _K.AUTH
    elif code.startswith("1650"):
        return _K.SERVER
    if code in ("3599999", "1306000") and ("iam" in low or "permission" in low):
        return _K.PERMISSION
    # Not-found errors whose code is not catalogued (SOPS 3599999 "task[id=…] get status error",
    # NodeMan 1.x string codes): recognised by what they say.
    if "get status error" in low or "not exist" in low or "not found" in low or "不存在" in message:
        return _K.NOT_FOUND
    if "not_exist" in code.lower() or "not_found" in code.lower():
        return _K.NOT_FOUND
    return None


def retry_after_from(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait, from X-Bkapi-RateLimit-Reset or Retry-After (seconds or HTTP date)."""
    for name in ("x-bkapi-ratelimit-reset", "retry-after"):
        raw = headers.get(name)
        if not raw:
            continue
        raw = raw.strip()
        try:
            return max(0.0, float(raw))
        except ValueError:
            pass
        import email.utils  # lazy: a date in Retry-After is rare; the module costs start-up

        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            continue
        return max(0.0, when.timestamp() - time.time())
    return None


def hint(kind: ErrorKind) -> str:
    hint = _HINTS.get(kind)
    return f" — {hint}" if hint else ""


def looks_html(content: bytes) -> bool:
    head = content[:200].lstrip().lower()
    return head.startswith((b"<!doctype", b"<html", b"<head", b"<body", b"<"))


def snippet(content: bytes, limit: int = 120) -> str:
    text = content[: limit * 4].decode("utf-8", "replace")
    if looks_html(content):
        text = html_to_text(text)
    return clean_text(" ".join(text.split()), limit)


def unexpected_error(exc: Exception, scrub: Callable[[str], str] | None = None) -> BkError:
    """An adapter bug (any exception that is not a BkError) as the poll's error, shown and kept
    like a bad answer; `scrub` (the client's) masks the profile's secrets in its text."""
    message = f"unexpected {type(exc).__name__}: {exc}"
    return BkError(ErrorKind.BAD_RESPONSE, scrub(message) if scrub is not None else message)


MAX_SHOWN_URL = 200  # characters of an address named in an error


def shown_url(url: str) -> str:
    """`url` as an error names it: scheme, host, port and path; no user info, query or fragment
    (nothing a secret could sit in), cut at MAX_SHOWN_URL characters."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        shown = url.split("?", 1)[0].rsplit("@", 1)[-1]
    else:
        if ":" in host:
            host = f"[{host}]"  # IPv6
        netloc = host if port is None else f"{host}:{port}"
        shown = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    return shown if len(shown) <= MAX_SHOWN_URL else shown[:MAX_SHOWN_URL] + "…"
