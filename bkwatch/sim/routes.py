"""Which method + path is which API, on the ESB and on each API gateway."""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import api_evidence, ops_routes

ESB_PREFIX = "/api/c/compapi/v2/"


@dataclass(frozen=True, slots=True)
class Route:
    system: str
    api: str


# ESB component path (without prefix, without trailing slash) -> route. ESB takes GET or POST.
ESB = {
    "jobv3/get_job_instance_status": Route("job", "get_job_instance_status"),
    "jobv3/get_job_instance_ip_log": Route("job", "get_job_instance_ip_log"),
    "jobv3/batch_get_job_instance_ip_log": Route("job", "batch_get_job_instance_ip_log"),
    "sops/get_task_status": Route("sops", "get_task_status"),
    "sops/get_task_node_detail": Route("sops", "get_task_node_detail"),
    "sops/get_task_detail": Route("sops", "get_task_detail"),
    "nodeman/get_task_info": Route("nodeman", "get_task_info"),
    "nodeman/api/job/details": Route("nodeman", "job_details"),
    "gsekit/api/job/job_status": Route("gsekit", "job_status"),
}

# (gateway, method, resource regex) -> route. Gateway paths must match exactly, slash included.
GATEWAY: list[tuple[str, str, re.Pattern[str], Route]] = [
    (
        "bk-job",
        "GET",
        re.compile(r"/api/v3/get_job_instance_status"),
        Route("job", "get_job_instance_status"),
    ),
    (
        "bk-job",
        "GET",
        re.compile(r"/api/v3/get_job_instance_ip_log"),
        Route("job", "get_job_instance_ip_log"),
    ),
    (
        "bk-job",
        "POST",
        re.compile(r"/api/v3/batch_get_job_instance_ip_log"),
        Route("job", "batch_get_job_instance_ip_log"),
    ),
    (
        "bk-sops",
        "GET",
        re.compile(r"/get_task_status/(?P<task_id>[^/]+)/(?P<bk_biz_id>[^/]+)/"),
        Route("sops", "get_task_status"),
    ),
    (
        "bk-sops",
        "GET",
        re.compile(r"/get_task_node_detail/(?P<task_id>[^/]+)/(?P<bk_biz_id>[^/]+)/"),
        Route("sops", "get_task_node_detail"),
    ),
    (
        "bk-flow-engine",
        "GET",
        re.compile(r"/space/(?P<space_id>[^/]+)/task/(?P<task_id>[^/]+)/get_task_states/"),
        Route("bkflow", "get_task_states"),
    ),
    (
        "bk-sops",
        "GET",
        re.compile(r"/get_task_detail/(?P<task_id>[^/]+)/(?P<bk_biz_id>[^/]+)/"),
        Route("sops", "get_task_detail"),
    ),
    (
        "bk-flow-engine",
        "GET",
        re.compile(r"/space/(?P<space_id>[^/]+)/task/(?P<task_id>[^/]+)/get_task_detail/"),
        Route("bkflow", "get_task_detail"),
    ),
    (
        "bk-flow-engine",
        "GET",
        re.compile(r"/space/(?P<space_id>[^/]+)/get_task_list/"),
        Route("bkflow", "get_task_list"),
    ),
    (
        "bk-nodeman",
        "POST",
        re.compile(r"/api/job/(?P<job_id>[^/]+)/details/"),
        Route("nodeman", "job_details"),
    ),
]
# Task operations (sim/ops.py) and logs and node details (sim/api_evidence.py).
for _extra in (ops_routes, api_evidence):
    ESB.update({path: Route(*route) for path, route in _extra.ESB_ROUTES.items()})
    GATEWAY += [
        (gw, m, re.compile(rx), Route(system, api)) for gw, m, rx, system, api in _extra.GATEWAY_ROUTES
    ]
GATEWAY_RE = re.compile(r"/api/(?P<gw>[a-z0-9-]+)/(?P<stage>[a-z0-9-]+)(?P<rest>/.*)")


def match_esb(path: str) -> Route | None:
    if not path.startswith(ESB_PREFIX):
        return None
    return ESB.get(path[len(ESB_PREFIX) :].rstrip("/"))


def match_gateway(method: str, path: str) -> tuple[str, Route | None, dict[str, str]]:
    """(gateway name or "", route or None, path params)."""
    m = GATEWAY_RE.fullmatch(path)
    if m is None:
        return "", None, {}
    gw, stage, rest = m["gw"], m["stage"], m["rest"]
    for name, meth, rx, route in GATEWAY:
        if name != gw or stage != "prod":
            continue
        pm = rx.fullmatch(rest)
        if pm is not None and meth == method:
            return gw, route, pm.groupdict()
    return gw, None, {}
