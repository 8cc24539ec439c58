"""What to watch: canonical target strings and the BlueKing web-page URLs people copy.

Canonical forms (``str(target)`` gives them back)::

    job:BIZ:JOB_INSTANCE_ID          job:biz_set:BIZSET:JOB_INSTANCE_ID
    sops:BIZ:TASK_ID                 sops:project:PROJECT_ID:TASK_ID
    bkflow:SPACE_ID:TASK_ID          nodeman:BIZ:JOB_ID          gsekit:BIZ:JOB_ID

URLs are matched on their route (path plus ``#/`` hash route), whatever the scheme, host or
prefix (``/o/bk_sops/``, ``/job/``...): liberal about where a page lives, strict about what
identifies the system.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from bkwatch.model import System

__all__ = ["URL_FORMS", "Target", "TargetError", "parse_target"]

_INT = re.compile(r"[0-9]+")
_URLISH = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|/|#")

CANONICAL_FORMS = (
    "job:BIZ:JOB_INSTANCE_ID, job:biz_set:BIZSET:JOB_INSTANCE_ID, sops:BIZ:TASK_ID, "
    "sops:project:PROJECT_ID:TASK_ID, bkflow:SPACE_ID:TASK_ID, nodeman:BIZ:JOB_ID, gsekit:BIZ:JOB_ID"
)

URL_FORMS = (
    "JOB …/biz/BIZ/execute/task/ID, …/biz_set/ID/execute/task/ID, "
    "…/biz/BIZ/execute/step/N?taskInstanceId=ID, "
    "…/BIZ/execute/task/ID; SOPS …/taskflow/execute/PROJECT/?instance_id=ID; "
    "BKFlow …/space/SPACE/task/ID; NodeMan …#/task-list/detail/ID?bk_biz_id=BIZ (or --biz); "
    "GSEKit …/task-history/detail/ID?biz=BIZ or …#/BIZ/task-history/detail/ID"
)

# Markers that tell the two "task-history/detail" pages apart when the route alone cannot.
_GSEKIT_HINTS = ("gsekit", "process-config", "process_config", "bk_process")
_NODEMAN_HINTS = ("nodeman", "node_man", "node-man")


class TargetError(ValueError):
    """A target string or URL that cannot be watched; the message says what was expected."""


@dataclass(frozen=True, slots=True)
class Target:
    system: System
    scope: str  # biz id, biz-set id (JOB biz_set), project id (SOPS project), space id (BKFlow)
    id: str  # job_instance_id / task_id / job_id
    scope_type: str = "biz"  # JOB "biz"|"biz_set"; SOPS "biz"|"project"; BKFlow "space"

    def __str__(self) -> str:
        if self.scope_type in ("biz_set", "project"):
            return f"{self.system}:{self.scope_type}:{self.scope}:{self.id}"
        return f"{self.system}:{self.scope}:{self.id}"


def parse_target(text: str, *, default_biz: str | int | None = None) -> Target:
    """A canonical string or a BlueKing web URL -> Target.

    ``default_biz`` fills in the business for URLs that do not carry one (NodeMan task pages).
    """
    if not isinstance(text, str):
        raise TargetError(f"a target must be text, not {type(text).__name__}")
    raw = text.strip()
    if not raw:
        raise TargetError(f"empty target; expected one of {CANONICAL_FORMS} or a BlueKing task URL")
    if _URLISH.search(raw):
        return _parse_url(raw, default_biz)
    return _parse_canonical(raw)


# -- canonical strings --------------------------------------------------------------------------


def _pos_int(value: str, what: str, text: str) -> str:
    value = value.strip()
    if not _INT.fullmatch(value) or int(value) <= 0:
        raise TargetError(f"{what} must be a positive integer, got {value!r} in {text!r}")
    return str(int(value))  # "007" and "7" are the same task


def _parse_canonical(text: str) -> Target:
    parts = [p.strip() for p in text.split(":")]
    head = parts[0].lower()
    try:
        system = System(head)
    except ValueError:
        raise TargetError(
            f"unknown system {parts[0]!r} in {text!r}; expected one of {CANONICAL_FORMS} "
            "or a BlueKing task URL"
        ) from None
    rest = parts[1:]
    scope_type = "space" if system is System.BKFLOW else "biz"
    if len(rest) == 3:
        kind = rest[0].lower()
        allowed = {System.JOB: ("biz", "biz_set"), System.SOPS: ("biz", "project")}.get(system, ())
        if kind not in allowed:
            raise TargetError(f"{text!r}: unexpected scope {rest[0]!r}; {_forms_for(system)}")
        scope_type, rest = kind, rest[1:]
    if len(rest) != 2:
        raise TargetError(f"{text!r} does not look like a {system} target; {_forms_for(system)}")
    scope = _pos_int(rest[0], "the space id" if system is System.BKFLOW else "the scope id", text)
    ident = _pos_int(rest[1], "the task id", text)
    return Target(system, scope, ident, scope_type)


def _forms_for(system: System) -> str:
    forms = [f for f in CANONICAL_FORMS.split(", ") if f.startswith(f"{system}:")]
    return "expected " + " or ".join(forms)


# -- URLs ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Url:
    """A URL split once for every matcher: path and hash-route segments, query, raw text."""

    text: str
    segs: list[str]
    lowered: list[str]
    query: dict[str, str]
    haystack: str  # host + path + fragment, lower-case, for system hints
    default_biz: str | int | None


def _parse_url(text: str, default_biz: str | int | None) -> Target:
    if "://" not in text and not text.startswith(("/", "#")):
        text = "//" + text  # "paas.example.com/o/bk_sops/..." without a scheme
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise TargetError(f"not a valid URL {text!r}: {exc}") from None
    query = _query(parts.query)
    frag_path, _, frag_query = parts.fragment.partition("?")
    query.update(_query(frag_query))  # a hash route's own query wins
    segs = [s for s in parts.path.split("/") if s] + [s for s in frag_path.split("/") if s]
    lowered = [s.lower() for s in segs]
    haystack = (parts.netloc + parts.path + parts.fragment).lower()

    url = _Url(text, segs, lowered, query, haystack, default_biz)
    for matcher in (_match_job, _match_sops, _match_bkflow, _match_history):
        target = matcher(url)
        if target is not None:
            return target
    raise TargetError(f"unrecognised BlueKing URL {text!r}; expected a task page: {URL_FORMS}")


def _query(qs: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, values in parse_qs(qs, keep_blank_values=True).items():
        if values:
            out[key.lower()] = values[-1].strip()
    return out


def _index(lowered: list[str], *seq: str) -> int:
    """Position of the first occurrence of the consecutive segments ``seq``, or -1."""
    n = len(seq)
    for i in range(len(lowered) - n + 1):
        if tuple(lowered[i : i + n]) == seq:
            return i
    return -1


def _seg(segs: list[str], i: int) -> str | None:
    return segs[i] if 0 <= i < len(segs) else None


def _match_job(u: _Url) -> Target | None:
    lowered, segs, query, text = u.lowered, u.segs, u.query, u.text
    i = _index(lowered, "execute")
    while i != -1 and _seg(lowered, i - 1) == "taskflow":  # that is a SOPS page
        nxt = _index(lowered[i + 1 :], "execute")
        i = -1 if nxt == -1 else i + 1 + nxt
    if i == -1:
        return None
    page = _seg(lowered, i + 1)
    if page not in ("task", "step", "quick-launch"):
        return None
    scope = _seg(segs, i - 1)
    kind = _seg(lowered, i - 2)
    if scope is None or not _INT.fullmatch(scope):
        raise TargetError(f"{text!r}: a JOB execution URL needs …/biz/BIZ/execute/… ; {URL_FORMS}")
    scope_type = "biz_set" if kind == "biz_set" else "biz"
    # Step pages carry the job instance in ?taskInstanceId=; newer routes put it in the path.
    ident = query.get("taskinstanceid") if page == "step" else None
    if not ident:
        ident = _seg(segs, i + 2)
    if not ident:
        raise TargetError(f"{text!r}: no job instance id in the JOB URL; {URL_FORMS}")
    return Target(
        System.JOB, _pos_int(scope, "the business id", text), _pos_int(ident, "the job id", text), scope_type
    )


def _match_sops(u: _Url) -> Target | None:
    lowered, segs, query, text = u.lowered, u.segs, u.query, u.text
    i = _index(lowered, "taskflow", "execute")
    if i == -1:
        return None
    project = _seg(segs, i + 2)
    task = query.get("instance_id")
    if not project or not task:
        raise TargetError(
            f"{text!r}: a SOPS task URL looks like …/taskflow/execute/PROJECT_ID/?instance_id=TASK_ID"
        )
    return Target(
        System.SOPS, _pos_int(project, "the project id", text), _pos_int(task, "the task id", text), "project"
    )


def _match_bkflow(u: _Url) -> Target | None:
    lowered, segs, text = u.lowered, u.segs, u.text
    i = _index(lowered, "space")
    while i != -1:
        if _seg(lowered, i + 2) == "task" and _seg(segs, i + 3):
            space, task = segs[i + 1], segs[i + 3]
            return Target(
                System.BKFLOW,
                _pos_int(space, "the space id", text),
                _pos_int(task, "the task id", text),
                "space",
            )
        nxt = _index(lowered[i + 1 :], "space")
        i = -1 if nxt == -1 else i + 1 + nxt
    return None


def _match_history(u: _Url) -> Target | None:
    """NodeMan task-list pages and the task-history pages that NodeMan and GSEKit both have."""
    lowered, segs, query, text = u.lowered, u.segs, u.query, u.text
    job_id: str | None = None
    system: System | None = None
    before: str | None = None
    i = _index(lowered, "task-list", "detail")
    if i != -1:
        system, job_id = System.NODEMAN, _seg(segs, i + 2)
    else:
        i = _index(lowered, "task-list")
        if i != -1 and _seg(lowered, i + 2) == "log":  # NodeMan log page: task-list/ID/log/HOST
            system, job_id = System.NODEMAN, _seg(segs, i + 1)
        else:
            i = _index(lowered, "task-history", "detail")
            if i == -1:
                return None
            job_id = _seg(segs, i + 2)
            before = _seg(segs, i - 1)
            if before is not None and _INT.fullmatch(before):
                system = System.GSEKIT  # "#/BIZ/task-history/detail/ID"
            elif any(h in u.haystack for h in _GSEKIT_HINTS):
                system = System.GSEKIT
            elif any(h in u.haystack for h in _NODEMAN_HINTS):
                system = System.NODEMAN
            elif "biz" in query:
                system = System.GSEKIT  # GSEKit's router adds ?biz= to every page; NodeMan does not
            else:
                raise TargetError(
                    f"{text!r}: a task-history page exists in both NodeMan and GSEKit; use the "
                    "canonical form nodeman:BIZ:JOB_ID or gsekit:BIZ:JOB_ID"
                )
    if not job_id:
        raise TargetError(f"{text!r}: no job id in the URL; {URL_FORMS}")
    if system is System.GSEKIT and before is not None and _INT.fullmatch(before):
        biz: str | int | None = before
    else:
        biz = query.get("bk_biz_id") or query.get("biz") or u.default_biz
    if biz is None or biz == "":
        raise TargetError(
            f"{text!r}: the {system} page URL does not say which business it belongs to; "
            "add ?bk_biz_id=BIZ to it or pass --biz BIZ"
        )
    assert system is not None
    return Target(system, _pos_int(str(biz), "the business id", text), _pos_int(job_id, "the job id", text))
