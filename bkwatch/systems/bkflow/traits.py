"""BKFlow (流程引擎服务): what bkwatch knows of it without talking to it. Gateway only."""

from __future__ import annotations

from functools import partial

from bkwatch.model import System
from bkwatch.systems.pipeline import actions, urls
from bkwatch.systems.pipeline.traits import unit_done
from bkwatch.systems.traits import SystemTraits, View, scoped_identity

ACTIONS = actions.actions(System.BKFLOW, node_pause=False)

TRAITS = SystemTraits(
    system=System.BKFLOW,
    label="BKFlow",
    task_word="task",
    canonical_forms=("bkflow:SPACE_ID:TASK_ID",),
    url_forms=urls.BKFLOW_FORMS,
    scope_kinds=("space",),
    scope_word="the space id",
    scopeless=False,
    identity=scoped_identity,
    match_url=None,  # SOPS's taskflow matcher tells BKFlow pages apart by their query key
    transports=("apigw",),
    needs_user=False,  # its resources verify the app only
    gateway="bk-flow-engine",
    follow_kinds=("space",),
    batched=True,
    named_by_status=False,  # get_task_states carries no names at all (bk-apis §10.3)
    view=View.TREE,
    member="node",
    unit_done=unit_done,
    actions=ACTIONS,
    choose=partial(actions.choose, specs=ACTIONS, node_pause=False),
    state_words=actions.PIPELINE_WORDS,
    refused_codes=frozenset(),
    refuses_without_code=True,  # the task module answers result false, no code, HTTP 200
    act_elsewhere=None,
)
