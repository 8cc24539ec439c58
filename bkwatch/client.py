"""The one HTTP client: both BlueKing transports and their auth; answers classified by `errors.py`.

ESB ("compapi"): ``{esb_url}/api/c/compapi/v2/<path>``. API gateway: ``{apigw_tmpl with
api_name}/{stage}/<path>``. Credentials go in the ``X-Bkapi-Authorization`` header on both, as
BlueKing's own SDK sends them; a secret is never put in a URL. An ESB that ignores the header
(it answers that the app code is empty) gets them in a JSON body instead, POSTed, and that is
remembered per profile (`esb_auth.py`). Success is ``result is True`` and nothing else.

Past ~400 lines: the transport rule, auth, the request, the answer's fingerprint and its
classification are one path every request takes; the TLS context read on first handshake sits
beside it.
"""

from __future__ import annotations

import os
import re
import ssl
import threading
from collections.abc import Mapping
from typing import Any, Literal

import orjson

from bkwatch import __version__
from bkwatch.config import Profile, ca_context
from bkwatch.errors import (
    API_NOT_FOUND_CODES,
    ApiNotFound,
    code_kind,
    hint,
    looks_html,
    retry_after_from,
    shown_url,
    snippet,
    status_kind,
)
from bkwatch.esb_auth import EsbAuthMemory
from bkwatch.lean_httpx import httpx, lean_transport
from bkwatch.model import BkError, ErrorKind, System
from bkwatch.redact import redact
from bkwatch.systems.registry import traits
from bkwatch.text import clean_text

Via = Literal["esb", "apigw"]
ESB_PREFIX = "/api/c/compapi/v2/"

MAX_MESSAGE = 300
_SNIPPET_WINDOW = 16_384  # bytes of an odd body read for its excerpt (masked, then cut)
_K = ErrorKind
_URL_CACHE_MAX = 8192
_JSON = {"Content-Type": "application/json"}
_SPENT = httpx.ByteStream(b"")  # what a response read and closed keeps as its stream
# What `call_unless` answers for bytes seen last time.
UNCHANGED: Any = object()
# The envelope's own id of each answer (the ESB's `request_id`, JOB's `job_request_id`, a
# `trace_id`): new in every answer, so left out of its fingerprint, but only as a member of the
# top-level object itself (flat members between it and the body's start or end), never inside
# `data`. Looked for in the answer's first and last bytes only.
_ANSWER_ID = re.compile(rb'[{,]\s*"(job_request_id|request_id|trace_id)"\s*:\s*"[0-9A-Za-z-]{1,64}"')
_STR = rb'"(?:[^"\\]|\\.)*"'
_MEMBER = _STR + rb"\s*:\s*(?:" + _STR + rb"|-?\d+(?:\.\d+)?|true|false|null)"
_BEFORE_ID = re.compile(rb"\s*\{(?:\s*" + _MEMBER + rb"\s*,)*")  # the body's start up to the id
_AFTER_ID = re.compile(rb"(?:\s*,\s*" + _MEMBER + rb")*\s*\}\s*")  # the id's end to the body's end
_ID_WINDOW = 512


class TrustOnFirstHandshake(ssl.SSLContext):
    """httpx's default TLS context — certifi's CA bundle, or SSL_CERT_FILE / SSL_CERT_DIR — with
    the bundle read at the first TLS handshake instead of when the client is made: ~50 ms before
    the first poll that a profile speaking plain http (the demo, many intranet installs) never
    needs. Every handshake goes through `wrap_bio` (asyncio, anyio) or `wrap_socket`."""

    _lock = threading.Lock()

    def trust(self, cafile: str | None, capath: str | None) -> None:
        self._where = (cafile, capath)
        self._loaded = False

    def _load(self) -> None:
        with self._lock:
            if not self._loaded:
                self.load_verify_locations(cafile=self._where[0], capath=self._where[1])
                self._loaded = True

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        self._load()
        return super().wrap_socket(*args, **kwargs)

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:
        self._load()
        return super().wrap_bio(*args, **kwargs)


def default_tls() -> TrustOnFirstHandshake:
    """What httpx builds for `verify=True` (the same sources of trust, in its order)."""
    ctx = TrustOnFirstHandshake(ssl.PROTOCOL_TLS_CLIENT)  # verifies certificates and host names
    if os.environ.get("SSL_CERT_FILE"):
        ctx.trust(os.environ["SSL_CERT_FILE"], None)
    elif os.environ.get("SSL_CERT_DIR"):
        ctx.trust(None, os.environ["SSL_CERT_DIR"])
    else:
        import certifi  # lazy: httpx's own dependency, as httpx imports it

        ctx.trust(certifi.where(), None)
    return ctx


class _NoCookies(httpx.Cookies):
    """A cookie store that keeps nothing."""

    def extract_cookies(self, _response: httpx.Response) -> None:
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
        # What the systems' adapters keep for as long as this client lives (a pipeline's detail
        # cache: systems/pipeline/flow.py), by name; the client itself never reads it.
        self.adapter_state: dict[str, Any] = {}
        verify: ssl.SSLContext | bool = profile.verify
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        if transport is None:
            verify = ca_context(profile) or (default_tls() if profile.verify else False)
            transport = lean_transport(verify=verify, limits=limits)
        self._http = httpx.AsyncClient(
            transport=transport,
            verify=verify,
            timeout=httpx.Timeout(profile.timeout, connect=min(3.0, profile.timeout)),
            limits=limits,
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
        ways = traits(system).transports
        if "esb" not in ways:
            if not p.apigw_tmpl:
                raise BkError(
                    _K.CONFIG,
                    f"{traits(system).label} is only reachable through the API gateway: "
                    "set BK_API_URL_TMPL or apigw_tmpl in the profile",
                )
            return "apigw"
        if "apigw" in ways and p.apigw_tmpl and system in p.gateways:
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
        if traits(system).needs_user and not (p.username or p.token):
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
        allow_no_data: bool = False,
    ) -> Any:
        """Call `api` (a path below the transport's base) and return its `data`.

        `params` go to the query string for GET and to a JSON body otherwise. Raises BkError.
        `allow_no_data`: a success without `data` (SOPS operations) returns None.
        """
        resp, content = await self._exchange(system, api, via, method, params)
        return self._decode(system, resp, content, allow_no_data)

    async def call_unless(
        self,
        seen: int | None,
        system: System,
        api: str,
        *,
        via: Via | None = None,
        method: str = "GET",
        params: Mapping[str, Any] | None = None,
    ) -> tuple[Any, int]:
        """`call` for a poll that holds what it built from this API's last answer, whose
        fingerprint is `seen`: (UNCHANGED, seen) when the answer is those very bytes again (with
        the same HTTP status), not decoded; else (its `data`, its fingerprint). Raises BkError."""
        resp, content = await self._exchange(system, api, via, method, params)
        fingerprint = hash((api, resp.status_code, _without_answer_id(content)))
        if fingerprint == seen:
            return UNCHANGED, fingerprint
        return self._decode(system, resp, content), fingerprint

    async def _exchange(
        self, system: System, api: str, via: Via | None, method: str, params: Mapping[str, Any] | None
    ) -> tuple[httpx.Response, bytes]:
        """One request and its whole body (an ESB that ignores the credentials' header asked
        again with them in the body). Raises a classified BkError when there is no answer."""
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
                # httpx's response and its stream refer to each other: left as they are, every
                # request is ~40 objects only the cyclic collector frees, a fifth of polling's CPU
                # at 2,000 watches. The stream is spent; a response without it is freed at once.
                resp.stream = _SPENT
        except httpx.TimeoutException as exc:
            raise self._error(
                _K.TIMEOUT, f"{system}: no answer from {shown_url(url)} within {self._timeout_text(exc)}"
            ) from None
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise self._error(_K.CONFIG, f"{system}: bad base URL {shown_url(url)!r}: {exc}") from None
        except httpx.RemoteProtocolError as exc:
            text = str(exc)
            # Part of the body arrived: a truncated answer. Nothing arrived: the connection dropped.
            if ("message body" in text or "incomplete" in text.lower()) and "received 0 bytes" not in text:
                raise self._error(
                    _K.BAD_RESPONSE, f"{system}: answer cut off before its end: {exc}"
                ) from None
            raise self._error(_K.NETWORK, f"{system}: {self._net_text(exc, url)}") from None
        except (httpx.HTTPError, OSError) as exc:
            raise self._error(_K.NETWORK, f"{system}: {self._net_text(exc, url)}") from None
        except BkError:
            raise
        except Exception as exc:  # a transport bug must not kill the poller
            raise self._error(_K.NETWORK, f"{system}: request failed: {type(exc).__name__}: {exc}") from None
        if via == "esb" and not in_body and _ignores_header(content):
            self.esb_auth = "body"
            self.esb_memory.remember_body(self.profile.name, self.profile.esb_url)
            return await self._exchange(system, api, via, method, params)
        return resp, content

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
    def _net_text(exc: BaseException, url: str) -> str:
        """The failure in words, with the address tried (never its query or user info)."""
        where = shown_url(url)
        if isinstance(exc, httpx.ConnectError):
            return f"cannot connect to {where}: {exc}"
        if isinstance(exc, httpx.RemoteProtocolError):
            return f"connection broken by the server at {where}: {exc}"
        return f"network error at {where}: {type(exc).__name__}: {exc}"

    def _error(self, kind: ErrorKind, message: str, *, retry_after: float | None = None) -> BkError:
        return BkError(kind, self.scrub(message), retry_after=retry_after)

    def scrub(self, text: str) -> str:
        """Cleaned text with every secret masked, in any spelling, then cut: safe for screens and
        logs (cutting first could leave a secret's head)."""
        return redact(clean_text(text), self.profile.secrets())[: MAX_MESSAGE * 2]

    def _snippet(self, content: bytes) -> str:
        """A short excerpt of a body that is not JSON, its secrets masked before it is cut: a
        secret the server echoed must not survive as a head cut off at the excerpt's end."""
        window = content[:_SNIPPET_WINDOW].decode("utf-8", "replace")
        return snippet(redact(window, self.profile.secrets()).encode())

    def _decode(
        self, system: System, resp: httpx.Response, content: bytes, allow_no_data: bool = False
    ) -> Any:
        status = resp.status_code
        try:
            body = orjson.loads(content)
        except orjson.JSONDecodeError:
            body = None
        if isinstance(body, dict):
            if body.get("result") is True and status < 400:
                if "data" not in body and not allow_no_data:
                    raise self._error(_K.BAD_RESPONSE, f"{system}: answer has result=true but no data")
                return body.get("data")
            if status >= 400 or body.get("result") is False:
                raise self._classify(system, resp, body)
            if "result" in body:
                raise self._error(
                    _K.BAD_RESPONSE, f"{system}: 'result' is {body['result']!r:.40}, not true or false"
                )
            raise self._error(
                _K.BAD_RESPONSE, f"{system}: answer has no 'result' field ({self._snippet(content)})"
            )
        # Not a JSON object: plain text, HTML, garbage, a bare list, or a cut-off body.
        kind = status_kind(status)
        what = "an HTML page" if looks_html(content) else "not a JSON object"
        if kind is None:
            if body is None and content[:1] in (b"{", b"[") and len(content) > 1:
                what = "truncated or invalid JSON"
            raise self._error(_K.BAD_RESPONSE, f"{system}: HTTP {status}, {what}: {self._snippet(content)}")
        text = self._snippet(content) or resp.reason_phrase
        if status == 404:
            raise ApiNotFound(
                self.scrub(f"{system}: HTTP 404 at {_path(resp)}: the API path is not published")
            )
        raise self._error(
            kind,
            f"{system}: HTTP {status}: {text}" + hint(kind),
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
        if code in API_NOT_FOUND_CODES:
            return ApiNotFound(
                self.scrub(
                    f"{system}: API not found ({code}) at {_path(resp)}: the API path is not published "
                    f"on this server; {message}"
                )
            )
        kind = code_kind(code, message) if code else None
        if kind is None and status == 429:
            kind = _K.RATE_LIMITED
        if kind is None and "result" not in body:
            kind = status_kind(status) or _K.BAD_RESPONSE
        if kind is None:
            kind = status_kind(status) or _K.SERVER
        label = f"code {code}" if code else f"HTTP {status}"
        text = f"{system}: {message or 'request failed'} ({label})" + hint(kind)
        retry = retry_after_from(resp.headers) if kind is _K.RATE_LIMITED else None
        error = self._error(kind, text, retry_after=retry)
        error.code, error.status = code or None, status
        return error


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


def _without_answer_id(content: bytes) -> bytes:
    """The answer with its envelope's ids emptied (`_ANSWER_ID`): two answers alike but for
    those are the same answer to a poll. Hashed by the process's random key (`hash`), so no
    server can aim at a collision."""
    tail = max(0, len(content) - _ID_WINDOW)
    found = {m.start(): m for m in _ANSWER_ID.finditer(content, 0, _ID_WINDOW)}
    found.update((m.start(), m) for m in _ANSWER_ID.finditer(content, tail))
    for at in sorted(found, reverse=True):  # from the end: the places before stay where they are
        m = found[at]
        if _BEFORE_ID.fullmatch(content, 0, at + 1) or _AFTER_ID.fullmatch(content, m.end()):
            content = b'%s%s"%s":""%s' % (content[:at], content[at : at + 1], m[1], content[m.end() :])
    return content


def _query_value(v: Any) -> Any:
    if isinstance(v, bool):
        return "true" if v else "false"
    return v


def _path(resp: httpx.Response) -> str:
    return resp.request.url.path if resp.request is not None else "?"
