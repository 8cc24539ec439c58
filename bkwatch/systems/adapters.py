"""Each system's HTTP side, by `System`: one `SystemAdapter` per system, and `fetch_task`, the one
entry point of a poll.

`fetch_task` leaves whatever an adapter raises as a classified `BkError` whose text has the
profile's secrets masked. The pure side of a system (names, forms, actions) is its
`SystemTraits` (`systems/registry.py`), which the screen may read; this module it may not.

Each system's evidence module (a host's or node's log, failure signatures) is imported when
first asked for, not with the polls: ~5 ms of the monitor's start before its first row, for
what only `l`, `w` and the `logs` / `why` commands read.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bkwatch.action_spec import ActionSpec, Wire
from bkwatch.errors import unexpected_error
from bkwatch.evidence.base import Evidence
from bkwatch.model import BkError, System, Task
from bkwatch.systems.bkflow import actions as bkflow_actions
from bkwatch.systems.bkflow import lists as bkflow_lists
from bkwatch.systems.bkflow import poll as bkflow_poll
from bkwatch.systems.bkflow.traits import TRAITS as BKFLOW
from bkwatch.systems.gsekit import poll as gsekit_poll
from bkwatch.systems.gsekit.traits import TRAITS as GSEKIT
from bkwatch.systems.job import actions as job_actions
from bkwatch.systems.job import lists as job_lists
from bkwatch.systems.job import poll as job_poll
from bkwatch.systems.job.traits import TRAITS as JOB
from bkwatch.systems.lists import Found, ListQuery, ScopeRef
from bkwatch.systems.nodeman import poll as nodeman_poll
from bkwatch.systems.nodeman.traits import TRAITS as NODEMAN
from bkwatch.systems.pipeline.flow import FlowDetails
from bkwatch.systems.sops import actions as sops_actions
from bkwatch.systems.sops import lists as sops_lists
from bkwatch.systems.sops import poll as sops_poll
from bkwatch.systems.sops.traits import TRAITS as SOPS
from bkwatch.systems.traits import SystemTraits
from bkwatch.targets import parse_target

if TYPE_CHECKING:
    from bkwatch.client import BkClient
    from bkwatch.evidence.follow import LogPager, LogSource
    from bkwatch.evidence.signatures import Signatures
    from bkwatch.target import Target

__all__ = [
    "ADAPTERS",
    "SystemAdapter",
    "adapter",
    "fetch_evidence",
    "fetch_many",
    "fetch_task",
    "on_background_read",
    "open_log",
    "settle",
    "task_signatures",
]

log = logging.getLogger(__name__)

Fetch = Callable[["BkClient", "Target"], Awaitable[Task]]
ListTasks = Callable[["BkClient", "ScopeRef", ListQuery], Awaitable[list[Found]]]
BatchStates = Callable[["BkClient", "ScopeRef", list[int]], Awaitable[dict[int, "str | None"]]]
FetchEvidence = Callable[
    ["BkClient", Task, "Target", "str | None", "str | None", "str | None"], Awaitable[Evidence]
]
FetchMany = Callable[["BkClient", "Target", Task, list[dict[str, "str | None"]]], Awaitable[list[Evidence]]]
Sign = Callable[["BkClient", "Target", Task, "str | None"], Awaitable["Signatures"]]
BuildWire = Callable[[ActionSpec, "Target", "str | None", str, "str | None"], Wire]


# Each system's evidence, its module imported on the first call (see the module's docstring).


async def _job_evidence(*args: Any) -> Evidence:
    from bkwatch.systems.job.evidence import evidence  # lazy: on first use

    return await evidence(*args)


async def _job_evidence_batch(*args: Any) -> list[Evidence]:
    from bkwatch.systems.job.evidence import evidence_batch  # lazy: on first use

    return await evidence_batch(*args)


async def _job_signatures(*args: Any) -> Signatures:
    from bkwatch.systems.job.evidence import signatures  # lazy: on first use

    return await signatures(*args)


async def _sops_evidence(*args: Any) -> Evidence:
    from bkwatch.systems.pipeline.evidence import sops_evidence  # lazy: on first use

    return await sops_evidence(*args)


async def _sops_signatures(*args: Any) -> Signatures:
    from bkwatch.systems.pipeline.evidence import sops_signatures  # lazy: on first use

    return await sops_signatures(*args)


def _sops_log_pager() -> LogPager:
    from bkwatch.systems.pipeline.evidence import SopsLogPager  # lazy: on first use

    return SopsLogPager()


async def _bkflow_evidence(*args: Any) -> Evidence:
    from bkwatch.systems.pipeline.evidence import bkflow_evidence  # lazy: on first use

    return await bkflow_evidence(*args)


async def _bkflow_signatures(*args: Any) -> Signatures:
    from bkwatch.systems.pipeline.evidence import bkflow_signatures  # lazy: on first use

    return await bkflow_signatures(*args)


async def _nodeman_evidence(*args: Any) -> Evidence:
    from bkwatch.systems.nodeman.evidence import evidence  # lazy: on first use

    return await evidence(*args)


async def _nodeman_signatures(*args: Any) -> Signatures:
    from bkwatch.systems.nodeman.evidence import signatures  # lazy: on first use

    return await signatures(*args)


async def _gsekit_evidence(*args: Any) -> Evidence:
    from bkwatch.systems.gsekit.evidence import evidence  # lazy: on first use

    return await evidence(*args)


async def _gsekit_signatures(*args: Any) -> Signatures:
    from bkwatch.systems.gsekit.evidence import signatures  # lazy: on first use

    return await signatures(*args)


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemAdapter:
    """Every request bkwatch makes of one system. Every field is required: `None` where the
    system has no such API (NodeMan and GSEKit have no list API on the ESB)."""

    traits: SystemTraits
    fetch: Fetch  # one poll: every request it needs, as a unified Task
    list_tasks: ListTasks | None  # a followed scope's list round
    batch_states: BatchStates | None  # raw root states of many tasks in few calls
    evidence: FetchEvidence  # one host's or node's details and log
    evidence_batch: FetchMany | None  # many units' evidence in few calls; None: one at a time
    log_pager: Callable[[], LogPager] | None  # None: whole logs, the new tail handed on
    signatures: Sign  # failing hosts or nodes grouped by their logs' signature
    action_wire: BuildWire | None  # the one request an action sends; None: no operations


ADAPTERS: dict[System, SystemAdapter] = {
    a.traits.system: a
    for a in (
        SystemAdapter(
            traits=JOB,
            fetch=job_poll.fetch,
            list_tasks=job_lists.list_tasks,
            batch_states=None,  # the list answers states already
            evidence=_job_evidence,
            evidence_batch=_job_evidence_batch,
            log_pager=None,
            signatures=_job_signatures,
            action_wire=job_actions.wire,
        ),
        SystemAdapter(
            traits=SOPS,
            fetch=sops_poll.fetch,
            list_tasks=sops_lists.list_tasks,
            batch_states=sops_lists.batch_states,
            evidence=_sops_evidence,
            evidence_batch=None,
            log_pager=_sops_log_pager,
            signatures=_sops_signatures,
            action_wire=sops_actions.wire,
        ),
        SystemAdapter(
            traits=BKFLOW,
            fetch=bkflow_poll.fetch,
            list_tasks=bkflow_lists.list_tasks,
            batch_states=bkflow_lists.batch_states,
            evidence=_bkflow_evidence,
            evidence_batch=None,
            log_pager=None,
            signatures=_bkflow_signatures,
            action_wire=bkflow_actions.wire,
        ),
        SystemAdapter(
            traits=NODEMAN,
            fetch=nodeman_poll.fetch,
            list_tasks=None,
            batch_states=None,
            evidence=_nodeman_evidence,
            evidence_batch=None,
            log_pager=None,
            signatures=_nodeman_signatures,
            action_wire=None,
        ),
        SystemAdapter(
            traits=GSEKIT,
            fetch=gsekit_poll.fetch,
            list_tasks=None,
            batch_states=None,
            evidence=_gsekit_evidence,
            evidence_batch=None,
            log_pager=None,
            signatures=_gsekit_signatures,
            action_wire=None,
        ),
    )
}


def adapter(system: System | str) -> SystemAdapter:
    return ADAPTERS[System(system)]


async def fetch_task(client: BkClient, target: Target) -> Task:
    """Every request one poll of `target` needs, as a unified Task. Raises model.BkError only."""
    try:
        return await adapter(target.system).fetch(client, target)
    except BkError as exc:
        safe = client.scrub(exc.message)  # an adapter may quote the server, which may echo a secret
        if safe != exc.message:
            exc.message, exc.args = safe, (safe,)
        raise
    except Exception as exc:  # an adapter bug: logged here, where the client can mask its text
        log.exception("poll of %s failed unexpectedly", target)
        raise unexpected_error(exc, client.scrub) from None


async def settle(client: BkClient, target: str | None = None) -> bool:
    """Wait for the reads a poll started beside itself (a pipeline's detail); True when any was
    read or tried (for `target`, or for any task), i.e. when a new poll may show more."""
    return await FlowDetails.of(client).settle(target)


def on_background_read(client: BkClient, listener: Callable[[str], Any]) -> None:
    """Call `listener(target)` whenever such a read for `client` has succeeded."""
    FlowDetails.of(client).listener = listener


# -- evidence: fetched only when asked for, never by a poll --------------------------------------


async def fetch_evidence(
    client: BkClient, task: Task, *, step: str | None = None, host: str | None = None, node: str | None = None
) -> Evidence:
    """The evidence of one host (JOB, NodeMan, GSEKit job task by id or host) or node (SOPS,
    BKFlow). `Evidence.raw_text` is the server's text as sent (untrusted: show it through
    `LogBuffer` or `text.clean_text`); `fields` are already cleaned."""
    return await adapter(task.system).evidence(client, task, parse_target(task.target), step, host, node)


async def fetch_many(
    client: BkClient, target: Target, task: Task, wanted: list[dict[str, str | None]]
) -> list[Evidence] | None:
    """Many units' evidence in as few calls as the system allows ({step, host, node} each); None
    where the system has no batch API (then ask `fetch_evidence` for each)."""
    batch = adapter(task.system).evidence_batch
    return None if batch is None else await batch(client, target, task, wanted)


async def task_signatures(
    client: BkClient, target: Target, task: Task, step_id: str | None = None
) -> Signatures:
    """The failure signatures of a task in any system."""
    return await adapter(task.system).signatures(client, target, task, step_id)


def open_log(
    client: BkClient, task: Task, *, step: str | None = None, host: str | None = None, node: str | None = None
) -> LogSource:
    """One host's or node's log, to follow (`LogSource.open()` first)."""
    from bkwatch.evidence.follow import LogSource  # lazy: see the module's docstring

    a = adapter(task.system)
    unit_done = a.traits.unit_done

    async def fetch(current: Task) -> Evidence:
        return await fetch_evidence(client, current, step=step, host=host, node=node)

    return LogSource(
        client,
        task,
        fetch=fetch,
        unit_done=lambda current: unit_done(current, step, host, node),
        target=parse_target(task.target),
        pager=a.log_pager() if a.log_pager is not None else None,
        step=step,
        host=host,
        node=node,
    )
