"""SOPS and BKFlow task pages: both are `taskflow/execute/{id}/`; the query key tells them apart."""

from __future__ import annotations

from bkwatch.model import System
from bkwatch.target import Target, TargetError, Url, find_route, pos_int, seg

SOPS_FORMS = "SOPS …/taskflow/execute/PROJECT/?instance_id=ID (also function/, audit/, appmaker/APP/)"
BKFLOW_FORMS = "BKFlow …/taskflow/execute/SPACE/?instanceId=ID"


def match_url(u: Url) -> Target | None:
    """SOPS and BKFlow share `taskflow/execute/{id}/`; the query key tells them apart."""
    lowered, segs, query, text = u.lowered, u.path, u.query, u.text
    i = find_route(lowered, "execute")
    if i == -1:
        return None
    before = seg(lowered, i - 1)
    appmaker = seg(lowered, i - 2) == "appmaker"
    if before not in ("taskflow", "function", "audit") and not appmaker:
        return None
    scope = seg(segs, i + 1)
    sops_task, flow_task = query.get("instance_id"), query.get("instanceId")
    if scope and sops_task and not flow_task:
        return Target(
            System.SOPS,
            pos_int(scope, "the project id", text),
            pos_int(sops_task, "the task id", text),
            "project",
        )
    if scope and flow_task and not sops_task and before == "taskflow" and not appmaker:
        return Target(
            System.BKFLOW,
            pos_int(scope, "the space id", text),
            pos_int(flow_task, "the task id", text),
            "space",
        )
    raise TargetError(
        f"{text!r}: a task page is SOPS …/taskflow/execute/PROJECT/?instance_id=ID (also function/, "
        "audit/, appmaker/APP/) or BKFlow …/taskflow/execute/SPACE/?instanceId=ID"
    )
