"""Request context and the response envelopes of the ESB and the API gateway."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import orjson


@dataclass(slots=True)
class Req:
    transport: str  # "esb" | "apigw"
    system: str  # job | sops | bkflow | nodeman | gsekit
    api: str  # e.g. get_job_instance_status, nodeman_v2
    method: str
    path: str
    params: dict[str, Any]  # query + JSON body (+ path params), credentials removed
    query: dict[str, str]
    path_params: dict[str, str] = field(default_factory=dict)
    app_code: str = ""
    gateway: str = ""


@dataclass(slots=True)
class Reply:
    status: int
    body: Any  # dict (serialised with orjson) or bytes
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


def hex32() -> str:
    return uuid.uuid4().hex


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)


def header_safe(text: str) -> str:
    """Header values must be printable ASCII here: percent-encode anything else."""
    if all(32 <= ord(c) < 127 for c in text):
        return text
    return quote(text, safe=" /:=[]\"',.-_()")


GW_ERRORS = {  # code -> (http status, code_name)
    1640001: (400, "INVALID_ARGS"),
    1640301: (403, "APP_NO_PERMISSION"),
    1640401: (404, "API_NOT_FOUND"),
    1642901: (429, "RATE_LIMIT_RESTRICTION"),
    1650001: (500, "INTERNAL_SERVER_ERROR"),
    1650200: (502, "BAD_GATEWAY"),
    1650401: (504, "REQUEST_BACKEND_TIMEOUT"),
}


def gw_error(code: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    status, name = GW_ERRORS[code]
    h = {"X-Bkapi-Error-Code": str(code), "X-Bkapi-Error-Message": header_safe(message)}
    if headers:
        h.update(headers)
    return Reply(
        status, {"code": code, "code_name": name, "result": False, "data": None, "message": message}, h
    )


def invalid_args(reason: str) -> Reply:
    return gw_error(1640001, f'Parameters error [reason="{reason}"]')


def esb_error(code: int, message: str) -> Reply:
    return Reply(200, {"result": False, "code": code, "data": None, "message": message})
