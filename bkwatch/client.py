"""The one HTTP client: both BlueKing transports, their auth, and error classification.

ESB ("compapi"): ``{esb_url}/api/c/compapi/v2/<path>``. API gateway: ``{apigw_tmpl with
api_name}/{stage}/<path>``. Credentials go in the ``X-Bkapi-Authorization`` header on both, as
BlueKing's own SDK sends them; a secret is never put in a URL. An ESB that ignores the header
(it answers that the app code is empty) gets them in a JSON body instead, POSTed, and that is
remembered per profile (`esb_auth.py`). Success is ``result is True`` and nothing else.
"""

from __future__ import annotations

import email.utils
import ssl
import time
from collections.abc import Mapping
from typing import Any, Literal

import httpx
import orjson

from bkwatch import __version__
from bkwatch.config import Profile
from bkwatch.esb_auth import EsbAuthMemory
from bkwatch.model import BkError, ErrorKind, System
from bkwatch.redact import redact
from bkwatch.systems.common import clean_text, html_to_text

Via = Literal["esb", "apigw"]
ESB_PREFIX = "/api/c/compapi/v2/"
ESB_ONLY = frozenset({System.GSEKIT})
APIGW_ONLY = frozenset({System.BKFLOW})
# BKFlow resources verify the app only; the others also want a user identity.
APP_ONLY = frozenset({System.BKFLOW})

MAX_MESSAGE = 300
_URL_CACHE_MAX = 8192
_JSON = {"Content-Type": "application/json"}


class _NoCookies(httpx.Cookies):
    """A cookie store that keeps nothing."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


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
_API_NOT_FOUND = frozenset({"1640401", "1306404"})
_AUTH_WORDS = ("app secret", "app code", "bk_app_code", "bk_app_secret", "user authentication", "bk_token")
_HINTS: dict[ErrorKind, str] = {
    _K.AUTH: "check app_code / app_secret and username / token in the profile",
    _K.PERMISSION: "ask for the permission (IAM) or the gateway resource grant for this app",
    _K.RATE_LIMITED: "polling too fast for the server's limit; slowing down",
}


def _status_kind(status: int) -> ErrorKind | None:
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


def _code_kind(code: str, message: str) -> ErrorKind | None:
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


def retry_after_from(headers: httpx.Headers) -> float | None:
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
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            continue
        return max(0.0, when.timestamp() - time.time())
    return None


class BkClient:
    def __init__(
        self,
        profile: Profile,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 32,
        esb_memory: EsbAuthMemory | None = None,
    ) -> None:
        self.profile = profile
        self.esb_memory = esb_memory or EsbAuthMemory(None)
        # "header" (the SDK's way) until this profile's ESB is seen to ignore it; then "body".
        self.esb_auth = self.esb_memory.mode(profile.name, profile.esb_url)
        # NodeMan API generation actually in use; may switch to "v1" once after a v2 404.
        self.nodeman_api = profile.nodeman_api
        # NodeMan's pagesize=-1 (every row at once) until a server refuses it.
        self.nodeman_all_rows = True
        verify: ssl.SSLContext | bool = profile.verify
        if transport is None and profile.verify and profile.ca_bundle:
            try:
                verify = ssl.create_default_context(cafile=profile.ca_bundle)
            except (OSError, ssl.SSLError) as exc:
                raise BkError(_K.CONFIG, f"cannot load ca_bundle {profile.ca_bundle}: {exc}") from None
        self._http = httpx.AsyncClient(
            transport=transport,
            verify=verify,
            timeout=httpx.Timeout(profile.timeout, connect=min(3.0, profile.timeout)),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            headers={"User-Agent": f"bkwatch/{__version__}", "Accept": "application/json"},
            follow_redirects=False,
        )
        # Every request carries its own credentials, so cookies a server sets are never wanted
        # back; not storing them also spares httpx its cookie-jar parsing of every response.
        self._http._cookies = _NoCookies()
        self._auth_cache: (
            tuple[tuple[str | None, ...], dict[str, str], dict[str, str], dict[str, str]] | None
        ) = None
        self._urls: dict[Any, httpx.URL] = {}

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> BkClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- transport rule ---------------------------------------------------------------------

    def transport_for(self, system: System) -> Via:
        p = self.profile
        if system in APIGW_ONLY:
            if not p.apigw_tmpl:
                raise BkError(
                    _K.CONFIG,
                    "BKFlow is only reachable through the API gateway: "
                    "set BK_API_URL_TMPL or apigw_tmpl in the profile",
                )
            return "apigw"
        if system not in ESB_ONLY and p.apigw_tmpl and system in p.gateways:
            return "apigw"
        if not p.esb_url:
            raise BkError(
                _K.CONFIG,
                f"no BlueKing address for {system}: set BK_COMPONENT_API_URL (esb_url) "
                "or BK_API_URL_TMPL (apigw_tmpl) in the profile",
            )
        return "esb"

    def _check_credentials(self, system: System) -> None:
        p = self.profile
        missing = [n for n, v in (("BK_APP_CODE", p.app_code), ("BK_APP_SECRET", p.app_secret)) if not v]
        if system not in APP_ONLY and not (p.username or p.token):
            missing.append("BK_USERNAME or BK_TOKEN")
        if missing:
            raise BkError(_K.CONFIG, f"missing credentials for {system}: set {', '.join(missing)}")

    def _identity(self) -> dict[str, str]:
        p = self.profile
        auth = {"bk_app_code": p.app_code or "", "bk_app_secret": p.app_secret or ""}
        if p.token:
            auth["bk_token"] = p.token
        if p.username:
            auth["bk_username"] = p.username
        return auth

    def _auth(self) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
        """The identity, and the gateway headers for GET and POST built from it; rebuilt only when
        the profile's credentials change, not once per request. Callers must not modify them."""
        p = self.profile
        key = (p.app_code, p.app_secret, p.token, p.username)
        cached = self._auth_cache
        if cached is None or cached[0] != key:
            identity = self._identity()
            header = {"X-Bkapi-Authorization": orjson.dumps(identity).decode()}
            cached = self._auth_cache = (key, identity, header, header | _JSON)
        return cached[1], cached[2], cached[3]

    def _url(self, url: str, query: dict[str, Any] | None) -> httpx.URL:
        """The parsed URL, query included. Watches ask for the same URLs poll after poll, and
        parsing one costs httpx more than the rest of building the request."""
        try:
            # Types too: 1 and 1.0 are equal keys but different query strings.
            key: Any = (url, tuple(query.items()), tuple(map(type, query.values()))) if query else url
            hit = self._urls.get(key)
        except TypeError:  # an unhashable parameter value: nothing to cache by
            return httpx.URL(url, params=query)
        if hit is None:
            hit = httpx.URL(url, params=query)
            if len(self._urls) >= _URL_CACHE_MAX:
                self._urls.clear()
            self._urls[key] = hit
        return hit

    def url_for(self, system: System, via: Via, path: str) -> str:
        p = self.profile
        if via == "esb":
            return (p.esb_url or "").rstrip("/") + ESB_PREFIX + path.lstrip("/")
        gateway = p.gateways.get(system) or ""
        # str.replace, not format: a template may carry other braces.
        base = (p.apigw_tmpl or "").replace("{api_name}", gateway).rstrip("/")
        return f"{base}/{p.stage}/{path.lstrip('/')}"

    # -- requests ---------------------------------------------------------------------------

    async def call(
        self,
        system: System,
        api: str,
        *,
        via: Via | None = None,
        method: str = "GET",
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """Call `api` (a path below the transport's base) and return its `data`.

        `params` go to the query string for GET and to a JSON body otherwise. Raises BkError.
        """
        via = via or self.transport_for(system)
        self._check_credentials(system)
        url = self.url_for(system, via, api)
        identity, get_headers, post_headers = self._auth()
        args: dict[str, Any] = dict(params or {})
        method = method.upper()
        in_body = via == "esb" and self.esb_auth == "body"
        if in_body:
            # An ESB that ignores the header: credentials in a JSON body (the ESB takes POST for
            # every component and forwards the rest as the component declares), never in a URL.
            args.update(identity)
            method, get_headers, post_headers = "POST", _JSON, _JSON
        try:
            if method == "GET":
                query = {k: _query_value(v) for k, v in args.items() if v is not None}
                request = self._http.build_request(method, self._url(url, query), headers=get_headers)
            else:
                request = self._http.build_request(
                    method, self._url(url, None), content=orjson.dumps(args), headers=post_headers
                )
            # Streamed, so an answer over the limit is refused while reading, not after holding it all.
            resp = await self._http.send(request, stream=True)
            try:
                content = await self._read_body(system, resp)
            finally:
                await resp.aclose()  # an unread rest closes the connection instead of being drained
        except httpx.TimeoutException as exc:
            raise self._error(_K.TIMEOUT, f"{system}: no answer within {self._timeout_text(exc)}") from None
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise self._error(_K.CONFIG, f"{system}: bad base URL {url!r}: {exc}") from None
        except httpx.RemoteProtocolError as exc:
            text = str(exc)
            # Part of the body arrived: a truncated answer. Nothing arrived: the connection dropped.
            if ("message body" in text or "incomplete" in text.lower()) and "received 0 bytes" not in text:
                raise self._error(
                    _K.BAD_RESPONSE, f"{system}: answer cut off before its end: {exc}"
                ) from None
            raise self._error(_K.NETWORK, f"{system}: {self._net_text(exc)}") from None
        except (httpx.HTTPError, OSError) as exc:
            raise self._error(_K.NETWORK, f"{system}: {self._net_text(exc)}") from None
        except BkError:
            raise
        except Exception as exc:  # a transport bug must not kill the poller
            raise self._error(_K.NETWORK, f"{system}: request failed: {type(exc).__name__}: {exc}") from None
        if via == "esb" and not in_body and _ignores_header(content):
            self.esb_auth = "body"
            self.esb_memory.remember_body(self.profile.name, self.profile.esb_url)
            return await self.call(system, api, via=via, method=method, params=params)
        return self._decode(system, resp, content)

    async def _read_body(self, system: System, resp: httpx.Response) -> bytes:
        """The whole body, refused (BAD_RESPONSE) once it is known to exceed max_response_mb: from
        a declared Content-Length before any of it is read, else as soon as the count passes it."""
        limit = self.profile.max_response_bytes
        declared = resp.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise self._too_large(system)
        chunks: list[bytes] = []
        size = 0
        # Counted after decompression: what is held in memory, so a gzip bomb is refused too.
        async for chunk in resp.aiter_bytes():
            size += len(chunk)
            if size > limit:
                raise self._too_large(system)
            chunks.append(chunk)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def _too_large(self, system: System) -> BkError:
        return self._error(
            _K.BAD_RESPONSE,
            f"{system}: answer larger than {self.profile.max_response_mb:g} MiB "
            "(limit max_response_mb in the profile)",
        )

    def _timeout_text(self, exc: httpx.TimeoutException) -> str:
        if isinstance(exc, httpx.ConnectTimeout):
            return "the connect timeout (3 s); is the host reachable?"
        return f"{self.profile.timeout:g} s (timeout in the profile)"

    @staticmethod
    def _net_text(exc: BaseException) -> str:
        if isinstance(exc, httpx.ConnectError):
            return f"cannot connect: {exc}"
        if isinstance(exc, httpx.RemoteProtocolError):
            return f"connection broken by the server: {exc}"
        return f"network error: {type(exc).__name__}: {exc}"

    def _error(self, kind: ErrorKind, message: str, *, retry_after: float | None = None) -> BkError:
        return BkError(kind, self.scrub(message), retry_after=retry_after)

    def scrub(self, text: str) -> str:
        """Cleaned text with every secret masked, in any spelling, then cut: safe for screens and
        logs (cutting first could leave a secret's head)."""
        return redact(clean_text(text), self.profile.secrets())[: MAX_MESSAGE * 2]

    def _decode(self, system: System, resp: httpx.Response, content: bytes) -> Any:
        status = resp.status_code
        try:
            body = orjson.loads(content)
        except orjson.JSONDecodeError:
            body = None
        if isinstance(body, dict):
            if body.get("result") is True and status < 400:
                if "data" not in body:
                    raise self._error(_K.BAD_RESPONSE, f"{system}: answer has result=true but no data")
                return body["data"]
            if status >= 400 or body.get("result") is False:
                raise self._classify(system, resp, body)
            if "result" in body:
                raise self._error(
                    _K.BAD_RESPONSE, f"{system}: 'result' is {body['result']!r:.40}, not true or false"
                )
            raise self._error(
                _K.BAD_RESPONSE, f"{system}: answer has no 'result' field ({_snippet(content)})"
            )
        # Not a JSON object: plain text, HTML, garbage, a bare list, or a cut-off body.
        kind = _status_kind(status)
        what = "an HTML page" if _looks_html(content) else "not a JSON object"
        if kind is None:
            if body is None and content[:1] in (b"{", b"[") and len(content) > 1:
                what = "truncated or invalid JSON"
            raise self._error(_K.BAD_RESPONSE, f"{system}: HTTP {status}, {what}: {_snippet(content)}")
        text = _snippet(content) or resp.reason_phrase
        if status == 404:
            raise ApiNotFound(
                self.scrub(f"{system}: HTTP 404 at {_path(resp)}: the API path is not published")
            )
        raise self._error(
            kind,
            f"{system}: HTTP {status}: {text}" + _hint(kind),
            retry_after=retry_after_from(resp.headers) if kind is _K.RATE_LIMITED else None,
        )

    def _classify(self, system: System, resp: httpx.Response, body: dict[str, Any]) -> BkError:
        status = resp.status_code
        code_raw = body.get("code")
        code = "" if code_raw is None else str(code_raw).strip()
        msg_raw = body.get("message")
        if not isinstance(msg_raw, str) or not msg_raw:
            msg_raw = resp.headers.get("x-bkapi-error-message") or ""
        message = self.scrub(str(msg_raw))[:MAX_MESSAGE]  # masked before it is cut
        if code in _API_NOT_FOUND:
            return ApiNotFound(
                self.scrub(
                    f"{system}: API not found ({code}) at {_path(resp)}: the API path is not published "
                    f"on this server; {message}"
                )
            )
        kind = _code_kind(code, message) if code else None
        if kind is None and status == 429:
            kind = _K.RATE_LIMITED
        if kind is None and "result" not in body:
            kind = _status_kind(status) or _K.BAD_RESPONSE
        if kind is None:
            kind = _status_kind(status) or _K.SERVER
        label = f"code {code}" if code else f"HTTP {status}"
        text = f"{system}: {message or 'request failed'} ({label})" + _hint(kind)
        retry = retry_after_from(resp.headers) if kind is _K.RATE_LIMITED else None
        return self._error(kind, text, retry_after=retry)


def _ignores_header(content: bytes) -> bool:
    """The ESB's answer when it found no app code: it did not read the X-Bkapi-Authorization
    header we sent (a paas2 ESB reads it first), so it wants the credentials as parameters."""
    if b"1306000" not in content:
        return False
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        return False
    if not isinstance(body, dict) or body.get("result") is not False or str(body.get("code")) != "1306000":
        return False
    message = str(body.get("message") or "").lower()
    return "app code" in message and "cannot be empty" in message


def _hint(kind: ErrorKind) -> str:
    hint = _HINTS.get(kind)
    return f" — {hint}" if hint else ""


def _query_value(v: Any) -> Any:
    if isinstance(v, bool):
        return "true" if v else "false"
    return v


def _looks_html(content: bytes) -> bool:
    head = content[:200].lstrip().lower()
    return head.startswith((b"<!doctype", b"<html", b"<head", b"<body", b"<"))


def _snippet(content: bytes, limit: int = 120) -> str:
    text = content[: limit * 4].decode("utf-8", "replace")
    if _looks_html(content):
        text = html_to_text(text)
    return clean_text(" ".join(text.split()), limit)


def _path(resp: httpx.Response) -> str:
    return resp.request.url.path if resp.request is not None else "?"
