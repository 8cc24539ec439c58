"""GSEKit (进程配置管理): what bkwatch knows of it without talking to it. ESB only."""

from __future__ import annotations

from bkwatch.model import System, Task
from bkwatch.systems.gsekit import urls
from bkwatch.systems.traits import SystemTraits, View, scoped_identity


def _unit_done(task: Task, step: str | None, host: str | None, node: str | None) -> bool:
    return True  # a job task's reason is read whole with the task: nothing more comes


def _act_elsewhere(scope: str, task_id: str, paas: str | None) -> str:
    page = (
        f"{(paas or 'https://PAAS_HOST').rstrip('/')}/o/bk_gsekit/task-history/detail/{task_id}?biz={scope}"
    )
    return (
        "GSEKit retry and revoke are not reachable through the ESB or an API gateway; "
        f"do it on the web page: {page}"
    )


TRAITS = SystemTraits(
    system=System.GSEKIT,
    label="GSEKit",
    task_word="job",
    canonical_forms=("gsekit:BIZ:JOB_ID",),
    url_forms=urls.FORMS,
    scope_kinds=("biz",),
    scope_word="the scope id",
    scopeless=False,
    identity=scoped_identity,
    match_url=urls.match_url,
    transports=("esb",),
    needs_user=True,
    gateway=None,
    follow_kinds=(),  # no list API on the ESB
    batched=False,
    named_by_status=True,
    view=View.JOB_TASKS,
    member="task",
    unit_done=_unit_done,
    actions=(),
    choose=None,
    state_words={},
    refused_codes=frozenset(),
    refuses_without_code=False,
    act_elsewhere=_act_elsewhere,
)
