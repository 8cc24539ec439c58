"""What bkwatch knows about one BlueKing system without talking to it: its names, its target and
page-URL forms, how it is reached, what following a scope of it means, how the screen shows it,
and its actions. Each system declares one `SystemTraits` in `systems/<name>/traits.py`.

Every field is required: a system states each capability, `None` or an empty value where it has
none, so nothing is guessed at a call site. Pure: no client, no HTTP (the screen reads it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from bkwatch.action_spec import ActionSpec, Chooser
from bkwatch.model import System, Task
from bkwatch.target import Target, Url

UrlMatcher = Callable[[Url], "Target | None"]


class View(StrEnum):
    """How a task's inside is drawn: the detail pane and the CLI pick their layout by it."""

    STEPS = "steps"  # steps, each with hosts grouped by result (JOB)
    TREE = "tree"  # a node tree in flow order (SOPS, BKFlow)
    HOSTS = "hosts"  # hosts grouped by result (NodeMan)
    JOB_TASKS = "job_tasks"  # job tasks with reasons and solutions (GSEKit)


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemTraits:
    system: System
    label: str  # how people write it: "JOB", "BKFlow"
    task_word: str  # what its own pages call a task: "job", "task"
    # -- identity: canonical strings and the page URLs people paste (bk-apis §10.1)
    canonical_forms: tuple[str, ...]  # accepted as written in messages
    url_forms: str
    scope_kinds: tuple[str, ...]  # scope kinds a target may name; the first is the default
    scope_word: str  # how a message names the scope id: "the scope id", "the space id"
    scopeless: bool  # "nodeman:ID": the task id alone identifies it
    # One task, one key, however it arrived (URL, id, followed scope): what names it upstream.
    # `scoped_identity` or `global_identity`; the target keeps its scope to be read with.
    identity: Callable[[Target], str]
    match_url: UrlMatcher | None  # None: another system's matcher recognises these pages too
    # -- transport (bk-apis §1)
    transports: tuple[str, ...]  # "esb", "apigw"
    needs_user: bool  # False: the app's own credentials are enough (BKFlow)
    gateway: str | None  # default API gateway name; None: no gateway
    # -- following a scope (list APIs)
    follow_kinds: tuple[str, ...]  # scope kinds that can be followed; () when there is no list API
    batched: bool  # followed tasks are parked and read by a batch status call
    named_by_status: bool  # False: the status answer carries no task name (the list does)
    # -- the screen
    view: View
    member: str  # what fails and is counted: "host", "node", "task"
    unit_done: Callable[[Task, str | None, str | None, str | None], bool]  # (task, step, host, node)
    # -- actions (bk-apis §10.5)
    actions: tuple[ActionSpec, ...]
    choose: Chooser | None  # a command-line verb -> the action; None: no operations here
    state_words: Mapping[str, str]  # raw state -> words, for refusals
    refused_codes: frozenset[str]  # error codes with which the server refuses for the state
    refuses_without_code: bool  # refuses with result false, no code, HTTP 200 (BKFlow)
    act_elsewhere: Callable[[str, str, str | None], str] | None  # (scope, id, paas) -> why and where

    @property
    def members(self) -> str:
        return f"{self.member}s"

    def forms_hint(self) -> str:
        return "expected " + " or ".join(self.canonical_forms)


def scoped_identity(target: Target) -> str:
    """Ids unique within a scope (JOB per business or set, BKFlow per space, GSEKit per
    business): the canonical string is the identity."""
    return str(target)


def global_identity(target: Target) -> str:
    """Ids unique within the whole system (a SOPS task id, a NodeMan job id): a business, a
    project or no scope at all name the same task."""
    return f"{target.system}:{target.id}"
