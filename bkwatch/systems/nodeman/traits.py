"""NodeMan (节点管理): what bkwatch knows of it without talking to it."""

from __future__ import annotations

from bkwatch.model import System, Task
from bkwatch.systems.nodeman import urls
from bkwatch.systems.traits import SystemTraits, View, global_identity


def _unit_done(task: Task, step: str | None, host: str | None, node: str | None) -> bool:
    found = task.hosts.get(host or "")
    return found.state.is_done if found is not None else True


def _act_elsewhere(scope: str, task_id: str, paas: str | None) -> str:
    # PaaS2 addresses under the ESB host; a site may serve the page elsewhere.
    page = f"{(paas or 'https://PAAS_HOST').rstrip('/')}/o/bk_nodeman/#/task-list/detail/{task_id}"
    return (
        "NodeMan retry and revoke are not reachable through the ESB or an API gateway; "
        f"do it on the web page: {page}"
    )


TRAITS = SystemTraits(
    system=System.NODEMAN,
    label="NodeMan",
    task_word="job",
    canonical_forms=("nodeman:JOB_ID", "nodeman:BIZ:JOB_ID"),
    url_forms=urls.FORMS,
    scope_kinds=("biz",),
    scope_word="the scope id",
    scopeless=True,  # a job id alone; "nodeman:BIZ:JOB_ID" (the older form) keeps its business
    identity=global_identity,  # a task id is unique in the whole system (bk-apis §10)
    match_url=urls.match_url,
    transports=("esb", "apigw"),
    needs_user=True,
    gateway="bk-nodeman",
    follow_kinds=(),  # no list API on the ESB
    batched=False,
    named_by_status=True,
    view=View.HOSTS,
    member="host",
    unit_done=_unit_done,
    actions=(),
    choose=None,
    state_words={},
    refused_codes=frozenset(),
    refuses_without_code=False,
    act_elsewhere=_act_elsewhere,
)
