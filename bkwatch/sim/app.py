"""The BlueKing side of the ASGI app: routing, auth, faults, envelopes."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import httpx
import orjson

from . import api_agent, api_evidence, api_flow, api_job, api_lists, api_pipeline, ops
from .auth import check_esb, check_gateway, esb_credentials, strip_credentials
from .envelope import Reply, Req, dumps, esb_error, gw_error, header_safe, hex32, invalid_args
from .faults import Fault, drift
from .routes import ESB, ESB_PREFIX, GATEWAY, match_esb, match_gateway
from .traffic import task_ref
from .wire import WireLog

if TYPE_CHECKING:
    from .parts import SimParts

ESB.update(api_lists.ESB_ROUTES)  # the list and batch-status APIs (sim/api_lists.py)
GATEWAY.extend(r for r in api_lists.gateway_routes() if r not in GATEWAY)

HTML_PAGE = (
    "<!DOCTYPE html><html><head><meta charset='utf-8'><title>蓝鲸智云 - 登录</title></head>"
    "<body><h1>登录已过期</h1><p>请重新登录 <a href='/login/'>login</a></p></body></html>"
).encode()


FLOW_APIS = {
    "get_task_detail": {"sops": api_flow.sops_task_detail, "bkflow": api_flow.bkflow_task_detail},
}


class SimConnectionReset(httpx.RemoteProtocolError):
    """Raised to drop the connection: uvicorn closes the socket, ASGITransport re-raises it."""


class BlueKing:
    def __init__(self, sim: SimParts) -> None:
        self.sim = sim
        self.sops_cache: dict[Any, tuple[float, Any]] = {}
        self.wire = WireLog()  # what clients sent, for tests about what goes on the wire

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        method, path = scope["method"], scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        self.wire.record(method, path, scope.get("query_string", b""), headers, body)
        reply, fired, transport = await self.handle(
            method, path, scope.get("query_string", b""), headers, body
        )
        await self.send(send, reply, fired, transport)

    async def handle(self, method: str, path: str, qs: bytes, headers: dict[str, str], body: bytes):
        query = dict(parse_qsl(qs.decode("utf-8", "replace"), keep_blank_values=True))
        route = match_esb(path)
        transport, gw, path_params = "esb", "", {}
        if route is None:
            transport = "apigw"
            gw, route, path_params = match_gateway(method, path)
        if route is None:
            if path.startswith(ESB_PREFIX):
                return (
                    esb_error(1306404, f"Component not found, please check the request path [path={path}]"),
                    {},
                    "esb",
                )
            return gw_error(1640401, f'API not found [method="{method}" path="{path}"]'), {}, "apigw"
        params: dict[str, Any] = dict(query)
        if body.strip():
            try:
                parsed = orjson.loads(body)
            except orjson.JSONDecodeError:
                parsed = None
            if not isinstance(parsed, dict):
                if transport == "esb":
                    return (
                        esb_error(1306406, "Request parameter error: the request body is not a valid JSON"),
                        {},
                        transport,
                    )
                return invalid_args("request body is not a valid JSON"), {}, transport
            params.update(parsed)
        keys = {route.system, route.api, transport, gw} - {""}
        fired = self.sim.faults.active(keys, path)
        self.sim.traffic.record(task_ref(route.system, {**params, **path_params}), fired)
        early = await self.pre_faults(fired, transport)
        if early is not None:
            return early, fired, transport
        revoked = "revoke_credentials" in fired
        if transport == "esb":
            creds = esb_credentials(
                headers.get("x-bkapi-authorization"), params, self.sim.config.esb_reads_header
            )
            err, app_code = check_esb(creds, revoked)
        else:
            err, app_code = check_gateway(
                headers.get("x-bkapi-authorization"),
                params,
                allow_params=route.system != "job",
                need_user=route.system != "bkflow",
                revoked=revoked,
            )
        if err is not None:
            return err, fired, transport
        req = Req(
            transport,
            route.system,
            route.api,
            method,
            path,
            strip_credentials(params),
            query,
            path_params,
            app_code,
            gw,
        )
        req.params.update(path_params)
        world = self.sim.world
        with world.lock:
            world.tick()
            reply = self.dispatch(req)
        return reply, fired, transport

    def dispatch(self, req: Req) -> Reply:
        world = self.sim.world
        cfg = self.sim.config
        api = req.api
        world.requests_log.append((api, req.transport, dict(req.params)))
        if api in ops.APIS:
            return ops.dispatch(world, req)
        if (req.system, api) in api_evidence.HANDLERS:
            return api_evidence.HANDLERS[req.system, api](world, req)
        if api in api_lists.APIS:
            return api_lists.dispatch(world, req)
        if req.system == "job":
            if api == "get_job_instance_status":
                return api_job.status(world, req)
            if api == "get_job_instance_ip_log":
                return api_job.ip_log(world, req)
            return api_job.batch_ip_log(world, req)
        if api in FLOW_APIS:
            return FLOW_APIS[api][req.system](world, req)
        if req.system == "sops":
            if api == "get_task_status":
                return api_pipeline.sops_status(world, req, self.sops_cache, cfg.sops_cache_seconds)
            return api_pipeline.sops_node_detail(world, req)
        if req.system == "bkflow":
            return api_pipeline.bkflow_states(world, req)
        if req.system == "nodeman":
            if api == "get_task_info":
                return api_agent.nodeman_v1(world, req)
            return api_agent.nodeman_v2(world, req, cfg.nodeman_page_cap, cfg.nodeman_all_rows)
        return api_agent.gsekit_status(world, req, cfg.gsekit_rows_without_ids)

    async def pre_faults(self, fired: dict[str, Fault], transport: str) -> Reply | None:
        if "delay" in fired:
            await asyncio.sleep(fired["delay"].delay if fired["delay"].delay is not None else 30.0)
        if "http_500" in fired:
            return gw_error(1650001, "Internal Server Error")
        if "http_502" in fired:
            return gw_error(
                1650200, 'Bad Gateway [upstream_error="connect() failed (111: Connection refused)"]'
            )
        if "http_504" in fired:
            return gw_error(1650401, "Request backend service timeout")
        if "rate_limit" in fired:
            if transport == "esb":
                return esb_error(1306429, "Request rate limit exceeded, please retry later")
            return gw_error(
                1642901,
                'Request has been throttled [reason="rate limit exceeded"]',
                {
                    "X-Bkapi-RateLimit-Limit": "5000",
                    "X-Bkapi-RateLimit-Remaining": "0",
                    "X-Bkapi-RateLimit-Reset": str(self.sim.config.rate_limit_reset),
                    "X-Bkapi-RateLimit-Plugin": "bk-rate-limit",
                },
            )
        if "html" in fired:
            return Reply(200, HTML_PAGE, content_type="text/html; charset=utf-8")
        return None

    async def send(self, send: Any, reply: Reply, fired: dict[str, Fault], transport: str) -> None:
        if "oversize" in fired:
            await send_oversize(send, fired["oversize"].size or OVERSIZE_DEFAULT)
            return
        body = reply.body
        if isinstance(body, dict):
            if transport == "esb":
                body["request_id"] = hex32()
            if "drift" in fired:
                body = drift(orjson.loads(dumps(body)))
            data = dumps(body)
        else:
            data = body
        if "malformed_json" in fired:
            data = data[: max(1, len(data) // 2)] + b"}}<!-- garbage -->"
        headers = [(b"content-type", reply.content_type.encode())]
        for k, v in reply.headers.items():
            headers.append((k.lower().encode(), header_safe(v).encode("latin-1")))
        if transport == "apigw":
            rid = str(uuid.uuid4())
            headers += [(b"x-bkapi-request-id", rid.encode()), (b"x-request-id", rid.encode())]
        headers.append((b"content-length", str(len(data)).encode()))
        if "reset" in fired:
            await send({"type": "http.response.start", "status": reply.status, "headers": headers})
            raise SimConnectionReset("Server disconnected without sending a response.")
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        if "truncated" in fired:
            await send({"type": "http.response.body", "body": data[: len(data) // 2], "more_body": True})
            raise SimConnectionReset("peer closed connection without sending complete message body")
        await send({"type": "http.response.body", "body": data})


OVERSIZE_DEFAULT = 128 * 1024 * 1024
_CHUNK = b"x" * (1024 * 1024)


async def send_oversize(send: Any, size: int) -> None:
    """A valid answer of about `size` bytes, streamed in 1 MiB chunks with no Content-Length, so
    only a client counting what it reads can refuse it early."""
    head = b'{"result":true,"code":0,"message":"","data":{"padding":"'
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": head, "more_body": True})
    left = max(0, size - len(head) - 3)
    while left > 0:
        piece = _CHUNK if left >= len(_CHUNK) else _CHUNK[:left]
        left -= len(piece)
        await send({"type": "http.response.body", "body": piece, "more_body": True})
    await send({"type": "http.response.body", "body": b'"}}'})
