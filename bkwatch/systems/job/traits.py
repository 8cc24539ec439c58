"""JOB (作业平台): what bkwatch knows of it without talking to it."""

from __future__ import annotations

from bkwatch.evidence.base import job_unit
from bkwatch.model import System, Task
from bkwatch.systems.job import actions, urls
from bkwatch.systems.traits import SystemTraits, View, scoped_identity


def _unit_done(task: Task, step: str | None, host: str | None, node: str | None) -> bool:
    return job_unit(task, step, host)[1].state.is_done


TRAITS = SystemTraits(
    system=System.JOB,
    label="JOB",
    task_word="job",
    canonical_forms=("job:BIZ:JOB_INSTANCE_ID", "job:biz_set:BIZSET:JOB_INSTANCE_ID"),
    url_forms=urls.FORMS,
    scope_kinds=("biz", "biz_set"),
    scope_word="the scope id",
    scopeless=False,
    identity=scoped_identity,
    match_url=urls.match_url,
    transports=("esb", "apigw"),
    needs_user=True,
    gateway="bk-job",
    follow_kinds=("biz", "biz_set"),
    batched=False,
    named_by_status=True,
    view=View.STEPS,
    member="host",
    unit_done=_unit_done,
    actions=actions.ACTIONS,
    choose=actions.choose,
    state_words=actions.JOB_WORDS,
    refused_codes=frozenset({"1241003", "1241015"}),
    refuses_without_code=False,
    act_elsewhere=None,
)
