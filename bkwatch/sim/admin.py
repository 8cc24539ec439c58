"""Admin HTTP API under /_sim/ (never a BlueKing path; no auth, meant for loopback)."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .base import SimError
from .ops import admin_routes as ops_admin_routes

if TYPE_CHECKING:
    from .parts import SimParts


def _json(obj: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(obj), status, media_type="application/json")


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    data = orjson.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    return data


def routes(sim: SimParts) -> list[Route]:
    world = sim.world

    async def list_tasks(request: Request) -> Response:
        return _json({"now": world.now(), "tasks": [asdict(t) for t in world.tasks()]})

    async def guarded(request: Request, action: Any) -> Response:
        try:
            return _json(action(await _body(request)))
        except SimError as exc:
            status = 404 if str(exc).startswith("no such task") else 400
            return _json({"error": str(exc)}, status)
        except (ValueError, TypeError, KeyError, orjson.JSONDecodeError) as exc:
            return _json({"error": f"bad request: {exc}"}, 400)

    async def create(request: Request) -> Response:
        def act(b: dict[str, Any]) -> dict[str, Any]:
            system = b.pop("system")
            if isinstance(b.get("scope"), list):
                b["scope"] = tuple(b["scope"])
            return {"target": world.add_task(str(system), **b)}

        return await guarded(request, act)

    async def force(request: Request) -> Response:
        target = request.path_params["target"]

        def act(b: dict[str, Any]) -> dict[str, Any]:
            world.force(target, b["state"], host=b.get("host"), node=b.get("node"), step=b.get("step"))
            return {"ok": True, "target": target}

        return await guarded(request, act)

    async def retry(request: Request) -> Response:
        target = request.path_params["target"]
        return await guarded(request, lambda b: (world.retry(target), {"ok": True, "target": target})[1])

    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            sim.faults.clear(request.query_params.get("kind"))
        elif request.method == "POST":

            def act(b: dict[str, Any]) -> dict[str, Any]:
                f = sim.faults.set(
                    str(b["kind"]),
                    route=b.get("route"),
                    probability=b.get("probability", 1.0),
                    count=b.get("count"),
                    delay=b.get("delay"),
                    size=b.get("size"),
                )
                return f.to_dict()

            return await guarded(request, act)
        return _json({"faults": [f.to_dict() for f in sim.faults.list()]})

    async def traffic(request: Request) -> Response:
        if request.method == "DELETE":
            sim.traffic.reset()
        return _json(sim.traffic.snapshot())

    async def advance(request: Request) -> Response:
        return await guarded(request, lambda b: (world.advance(float(b["seconds"])), {"now": world.now()})[1])

    return [
        Route("/_sim/tasks", list_tasks, methods=["GET"]),
        Route("/_sim/tasks", create, methods=["POST"]),
        Route("/_sim/tasks/{target}/force", force, methods=["POST"]),
        Route("/_sim/tasks/{target}/retry", retry, methods=["POST"]),
        Route("/_sim/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/_sim/traffic", traffic, methods=["GET", "DELETE"]),
        Route("/_sim/advance", advance, methods=["POST"]),
        *ops_admin_routes(world),
    ]
