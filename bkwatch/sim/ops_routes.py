"""Where the task operations live on the ESB and the API gateways (registered by routes.py)."""

from __future__ import annotations

# ESB component path -> (system, api). The ESB takes GET or POST on any of them.
ESB_ROUTES: dict[str, tuple[str, str]] = {
    "jobv3/operate_step_instance": ("job", "operate_step_instance"),
    "jobv3/operate_job_instance": ("job", "operate_job_instance"),
    "sops/operate_task": ("sops", "operate_task"),
    "sops/operate_node": ("sops", "operate_node"),
}
# (gateway, method, resource regex, system, api). Mind SOPS operate_node: {bk_biz_id}/{task_id}.
GATEWAY_ROUTES: list[tuple[str, str, str, str, str]] = [
    ("bk-job", "POST", r"/api/v3/operate_step_instance", "job", "operate_step_instance"),
    ("bk-job", "POST", r"/api/v3/operate_job_instance", "job", "operate_job_instance"),
    ("bk-sops", "POST", r"/operate_task/(?P<task_id>[^/]+)/(?P<bk_biz_id>[^/]+)/", "sops", "operate_task"),
    ("bk-sops", "POST", r"/operate_node/(?P<bk_biz_id>[^/]+)/(?P<task_id>[^/]+)/", "sops", "operate_node"),
    (
        "bk-flow-engine",
        "POST",
        r"/space/(?P<space_id>[^/]+)/task/(?P<task_id>[^/]+)/operate_task/(?P<operation>[^/]+)/",
        "bkflow",
        "operate_task",
    ),
    (
        "bk-flow-engine",
        "POST",
        r"/space/(?P<space_id>[^/]+)/task/(?P<task_id>[^/]+)/node/(?P<node_id>[^/]+)"
        r"/operate_node/(?P<operation>[^/]+)/",
        "bkflow",
        "operate_node",
    ),
]
