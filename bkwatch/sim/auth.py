"""Credential checks as the ESB (§1.1–1.2) and the API gateway (§1.3–1.4) do them."""

from __future__ import annotations

from typing import Any

import orjson

from .config import DEMO_APP_CODE, DEMO_APP_SECRET, DEMO_TOKEN, DEMO_USERNAME
from .envelope import Reply, esb_error, invalid_args

CRED_KEYS = (
    "bk_app_code",
    "app_code",
    "bk_app_secret",
    "app_secret",
    "bk_token",
    "bk_username",
    "username",
    "access_token",
    "bk_access_token",
    "bk_signature",
    "bk_nonce",
    "bk_timestamp",
)


def strip_credentials(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k not in CRED_KEYS}


def _pick(d: dict[str, Any], *keys: str) -> str:
    for k in keys:
        v = d.get(k)
        if v not in (None, ""):
            return str(v)
    return ""


def esb_credentials(header: str | None, params: dict[str, Any], reads_header: bool) -> dict[str, Any]:
    """Where a paas2 ESB takes credentials from: the X-Bkapi-Authorization JSON header when there
    is one (then only it), else the query/body parameters (`get_request_authorization`). An
    older ESB (`reads_header=False`) only knows the parameters."""
    if header is None or not reads_header:
        return params
    try:
        creds = orjson.loads(header)
    except orjson.JSONDecodeError:
        return {}
    return creds if isinstance(creds, dict) else {}


def check_esb(params: dict[str, Any], revoked: bool) -> tuple[Reply | None, str]:
    """`params`: the credentials `esb_credentials` chose. Returns (error reply or None, app code)."""
    app = _pick(params, "bk_app_code", "app_code")
    if not app:
        return esb_error(1306000, "APP Code [bk_app_code] cannot be empty"), app
    if app != DEMO_APP_CODE:
        return esb_error(
            1306000,
            f"Invalid APP Code [bk_app_code={app}], please confirm if the APP Code has been registered",
        ), app
    secret = _pick(params, "bk_app_secret", "app_secret")
    if not secret:
        return esb_error(1306000, "APP Secret [bk_app_secret] cannot be empty"), app
    if secret != DEMO_APP_SECRET or revoked:
        # The real ESB message carries this spelling.
        return esb_error(
            1306000,
            "APP Secret verification failed, pelase confirm if the APP Secret and APP Code "
            f"[bk_app_code={app}] match",
        ), app
    token = _pick(params, "bk_token")
    user = _pick(params, "bk_username", "username")
    if token:
        if token != DEMO_TOKEN:
            return esb_error(
                1306000, "User authentication failed, please check if the bk_token is valid"
            ), app
    elif user != DEMO_USERNAME:
        return esb_error(
            1306000,
            "User authentication failed, please provide a valid user identity, such as bk_token, bk_username",
        ), app
    return None, app


def check_gateway(
    header: str | None, params: dict[str, Any], *, allow_params: bool, need_user: bool, revoked: bool
) -> tuple[Reply | None, str]:
    creds: dict[str, Any]
    if header is not None:
        try:
            creds = orjson.loads(header)
        except orjson.JSONDecodeError:
            return invalid_args("request header X-Bkapi-Authorization is not a valid JSON"), ""
        if not isinstance(creds, dict):
            return invalid_args("request header X-Bkapi-Authorization is not a valid JSON"), ""
    else:
        creds = params if allow_params else {}
    app = _pick(creds, "bk_app_code", "app_code")
    if not app:
        return invalid_args("app code cannot be empty"), app
    secret = _pick(creds, "bk_app_secret", "app_secret")
    if not secret:
        return invalid_args("please provide bk_app_secret or bk_signature to verify app"), app
    if app != DEMO_APP_CODE or secret != DEMO_APP_SECRET or revoked:
        return invalid_args("bk_app_code or bk_app_secret is incorrect"), app
    if need_user:
        token = _pick(creds, "bk_token", "access_token")
        user = _pick(creds, "bk_username")
        if token == DEMO_TOKEN:
            return None, app
        if user and not token:
            if user == DEMO_USERNAME:
                return None, app
            return invalid_args(
                "user authentication failed, the user indicated by bk_username is not verified"
            ), app
        return invalid_args(
            "user authentication failed, please provide a valid user identity, "
            "such as bk_username, bk_token, access_token"
        ), app
    return None, app
