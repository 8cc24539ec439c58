"""Task operations (fact sheet §2.7, §3.8, §4.4, §10.5): routes, dispatch and the record of every
operation received, read and cleared through ``/_sim/operations``.

JOB ``operate_step_instance`` / ``operate_job_instance``, SOPS ``operate_task`` / ``operate_node``
(ESB and gateway; ``operate_node`` has the reversed path order) and BKFlow ``operate_task`` /
``operate_node`` (gateway only, ``operator`` required). The effects live in ``ops_job`` and
``ops_pipeline``; this module only routes and records. A fault set with ``after=True``
(`faults.py`) replaces the answer once the operation is carried out and recorded (its kind in the
record's ``fault``): a 502, 503, 504 or HTML page the client cannot read although the work is done.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import faults, ops_job, ops_pipeline
from .envelope import Reply, Req
from .ops_routes import ESB_ROUTES

if TYPE_CHECKING:
    from .world import World

APIS = frozenset(api for _, api in ESB_ROUTES.values()) | {"operate_task", "operate_node"}


def dispatch(world: World, req: Req) -> Reply:
    """Carry out one operation, record it with what it answered, and answer that (or, with a
    fault held for it, the fault's answer instead)."""
    if req.system == "job":
        reply = ops_job.handle(world, req)
    elif req.system == "sops":
        reply = ops_pipeline.sops(world, req)
    else:
        reply = ops_pipeline.bkflow(world, req)
    body = reply.body if isinstance(reply.body, dict) else {}
    late = faults.take_held()
    world.operations.add(
        {
            "at": world.now(),
            "transport": req.transport,
            "system": req.system,
            "api": req.api,
            "method": req.method,
            "path": req.path,
            "params": dict(req.params),  # credentials already stripped
            "status": reply.status,
            "result": body.get("result"),
            "code": body.get("code"),
            "message": body.get("message"),
            "fault": late.kind if late is not None else None,
        }
    )
    return faults.replaced(late.kind) if late is not None else reply


def admin_routes(world: World) -> list[Route]:
    async def operations(request: Request) -> Response:
        if request.method == "DELETE":
            world.operations.clear()
        elif request.method == "POST":
            # {"fail_next": TARGET}: that task's next retry fails again.
            raw = await request.body()
            try:
                body = orjson.loads(raw or b"{}")
                target = str(body["fail_next"])
            except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
                error = {"error": f"bad request: {exc}"}
                return Response(orjson.dumps(error), 400, media_type="application/json")
            world.operations.fail_next.add(target)
        out = {"operations": world.operations.list(), "fail_next": sorted(world.operations.fail_next)}
        return Response(orjson.dumps(out), 200, media_type="application/json")

    return [Route("/_sim/operations", operations, methods=["GET", "POST", "DELETE"])]
