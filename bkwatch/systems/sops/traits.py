"""SOPS (标准运维): what bkwatch knows of it without talking to it."""

from __future__ import annotations

from functools import partial

from bkwatch.model import System
from bkwatch.systems.pipeline import actions, urls
from bkwatch.systems.pipeline.traits import unit_done
from bkwatch.systems.traits import SystemTraits, View, global_identity

ACTIONS = actions.actions(System.SOPS, node_pause=True)

TRAITS = SystemTraits(
    system=System.SOPS,
    label="SOPS",
    task_word="task",
    canonical_forms=("sops:BIZ:TASK_ID", "sops:project:PROJECT_ID:TASK_ID"),
    url_forms=urls.SOPS_FORMS,
    scope_kinds=("biz", "project"),
    scope_word="the scope id",
    scopeless=False,
    identity=global_identity,  # a task id is unique in the whole system (bk-apis §10)
    match_url=urls.match_url,  # BKFlow's pages too: the query key tells them apart
    transports=("esb", "apigw"),
    needs_user=True,
    gateway="bk-sops",
    follow_kinds=("biz", "project"),
    batched=True,
    named_by_status=True,
    view=View.TREE,
    member="node",
    unit_done=unit_done,
    actions=ACTIONS,
    choose=partial(actions.choose, specs=ACTIONS, node_pause=True),
    state_words=actions.PIPELINE_WORDS,
    refused_codes=frozenset({"3545000", "3545100", "3599999"}),
    refuses_without_code=False,
    act_elsewhere=None,
)
