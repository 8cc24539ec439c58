"""What to watch: canonical target strings and the BlueKing web-page URLs people copy.

Canonical forms (``str(target)`` gives them back)::

    job:BIZ:JOB_INSTANCE_ID          job:biz_set:BIZSET:JOB_INSTANCE_ID
    sops:BIZ:TASK_ID                 sops:project:PROJECT_ID:TASK_ID
    bkflow:SPACE_ID:TASK_ID          nodeman:JOB_ID          gsekit:BIZ:JOB_ID

``nodeman:BIZ:JOB_ID`` (the form before NodeMan needed no business) still loads and keeps its
business, which only the 1.x ``get_task_info`` fallback uses.

URLs are matched on the real page routes of each system (bk-apis §10.1), wherever the page lives
(``/o/bk_sops/``, ``/t/bk_sops/``, a PaaS3 host...). History-mode pages (JOB, SOPS, BKFlow,
GSEKit) are matched on the URL path, NodeMan's hash-mode pages on the ``#/`` fragment only, so
the two ``task-history/detail`` pages can never be confused. A URL that names a step (JOB
``stepInstanceId``) or a host (NodeMan ``…/log/{instance}``) gives a target with a ``focus``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

from bkwatch.model import System

__all__ = ["URL_FORMS", "MissingScope", "Target", "TargetError", "parse_target"]

_INT = re.compile(r"[0-9]+")
_URLISH = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|/|#")
_MAX_FOCUS = 200

CANONICAL_FORMS = (
    "job:BIZ:JOB_INSTANCE_ID, job:biz_set:BIZSET:JOB_INSTANCE_ID, sops:BIZ:TASK_ID, "
    "sops:project:PROJECT_ID:TASK_ID, bkflow:SPACE_ID:TASK_ID, nodeman:JOB_ID, gsekit:BIZ:JOB_ID"
)

URL_FORMS = (
    "JOB …/biz/BIZ/execute/task/ID, …/biz_set/ID/execute/task/ID, …/biz/BIZ/execute/step/ID, "
    "…/biz/BIZ/execute/quick-launch/ID, …/api_execute/ID, …/api_execute_step/ID/STEP; "
    "SOPS …/taskflow/execute/PROJECT/?instance_id=ID (also function/, audit/, appmaker/APP/); "
    "BKFlow …/taskflow/execute/SPACE/?instanceId=ID; "
    "NodeMan …/#/task-list/detail/ID, …/#/task-list/ID/log/HOST, …/#/task-history/detail/ID; "
    "GSEKit …/task-history/detail/ID?biz=BIZ"
)

JOB_SCOPE_HINT = (
    "pass --biz BIZ or --biz-set ID, fill in the business in the add dialog, "
    "or set default_biz in the profile"
)


class TargetError(ValueError):
    """A target string or URL that cannot be watched; the message says what was expected."""


class MissingScope(TargetError):
    """A real page URL that carries no business: the caller may supply a default and try again."""


@dataclass(frozen=True, slots=True)
class Target:
    system: System
    scope: str  # biz id, biz-set id, project id, space id; "" for a NodeMan job without one
    id: str  # job_instance_id / task_id / job_id
    scope_type: str = "biz"  # JOB "biz"|"biz_set"; SOPS "biz"|"project"; BKFlow "space"
    # Where the pasted page pointed inside the task (a JOB step instance id, a NodeMan
    # instance id): not part of the target's identity, only where the monitor opens it.
    focus: str | None = field(default=None, compare=False, hash=False)

    def __str__(self) -> str:
        if self.scope_type in ("biz_set", "project"):
            return f"{self.system}:{self.scope_type}:{self.scope}:{self.id}"
        if not self.scope:
            return f"{self.system}:{self.id}"
        return f"{self.system}:{self.scope}:{self.id}"


def parse_target(
    text: str, *, default_biz: str | int | None = None, default_biz_set: str | int | None = None
) -> Target:
    """A canonical string or a BlueKing web URL -> Target.

    ``default_biz`` / ``default_biz_set`` give the scope for pages that carry none (JOB
    ``api_execute`` links; a GSEKit page missing its ``?biz=``). A scope in the URL wins.
    """
    if not isinstance(text, str):
        raise TargetError(f"a target must be text, not {type(text).__name__}")
    raw = text.strip()
    if not raw:
        raise TargetError(f"empty target; expected one of {CANONICAL_FORMS} or a BlueKing task URL")
    if _URLISH.search(raw):
        return _parse_url(raw, default_biz, default_biz_set)
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
    if system is System.NODEMAN and len(rest) == 1:
        return Target(system, "", _pos_int(rest[0], "the job id", text))
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
    if system is System.NODEMAN:
        forms.append("nodeman:BIZ:JOB_ID")
    return "expected " + " or ".join(forms)


# -- URLs ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Url:
    """A URL split once for every matcher: path and hash-route segments kept apart."""

    text: str
    path: list[str]
    lowered: list[str]  # path segments, lower-case
    frag: list[str]
    frag_lowered: list[str]
    query: dict[str, str]  # the page's query; keys keep their case (instance_id vs instanceId)
    default_biz: str | int | None
    default_biz_set: str | int | None


def _parse_url(text: str, default_biz: str | int | None, default_biz_set: str | int | None) -> Target:
    if "://" not in text and not text.startswith(("/", "#")):
        text = "//" + text  # "paas.example.com/o/bk_sops/..." without a scheme
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise TargetError(f"not a valid URL {text!r}: {exc}") from None
    frag_path, _, frag_query = parts.fragment.partition("?")
    path = [s for s in parts.path.split("/") if s]
    frag = [s for s in frag_path.split("/") if s]
    query = {**_query(parts.query), **_query(frag_query)}
    url = _Url(
        text,
        path,
        [s.lower() for s in path],
        frag,
        [s.lower() for s in frag],
        query,
        default_biz,
        default_biz_set,
    )
    for matcher in (_match_nodeman, _match_job, _match_taskflow, _match_gsekit):
        target = matcher(url)
        if target is not None:
            return target
    raise TargetError(f"unrecognised BlueKing URL {text!r}; expected a task page: {URL_FORMS}")


def _query(qs: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, values in parse_qs(qs, keep_blank_values=True).items():
        if values:
            out[key] = values[-1].strip()
    return out


def _index(lowered: list[str], *seq: str) -> int:
    """Position of the last occurrence of the consecutive segments ``seq``, or -1 (the page's own
    route is at the end of the path; a site prefix before it may contain anything)."""
    n = len(seq)
    for i in range(len(lowered) - n, -1, -1):
        if tuple(lowered[i : i + n]) == seq:
            return i
    return -1


def _seg(segs: list[str], i: int) -> str | None:
    return segs[i] if 0 <= i < len(segs) else None


def _focus(value: str | None) -> str | None:
    if not value:
        return None
    value = unquote(value).strip()
    if not value or len(value) > _MAX_FOCUS or not value.isprintable():
        return None
    return value


def _match_job(u: _Url) -> Target | None:
    lowered, segs, text = u.lowered, u.path, u.text
    for page in ("api_execute", "api_execute_step"):
        i = _index(lowered, page)
        if i != -1:
            return _job_api_execute(u, i, page)
    i = _index(lowered, "execute")
    if i == -1 or _seg(lowered, i + 1) not in ("task", "step", "quick-launch"):
        return None
    if _seg(lowered, i - 1) in ("taskflow", "function", "audit"):
        return None  # a SOPS/BKFlow page
    page = lowered[i + 1]
    scope, kind = _seg(segs, i - 1), _seg(lowered, i - 2)
    if kind not in ("biz", "biz_set") or scope is None or not _INT.fullmatch(scope):
        raise TargetError(
            f"{text!r}: a JOB execution page is …/biz/BIZ/execute/{page}/ID or "
            f"…/biz_set/ID/execute/{page}/ID; expected a task page: {URL_FORMS}"
        )
    ident = _seg(segs, i + 2)
    if not ident:
        raise TargetError(f"{text!r}: no job instance id in the JOB URL; expected …/execute/{page}/ID")
    focus = _focus(u.query.get("stepInstanceId")) if page == "step" else None
    return Target(
        System.JOB,
        _pos_int(scope, "the business id", text),
        _pos_int(ident, "the job instance id", text),
        kind,
        focus=None if focus is None else _pos_int(focus, "the step instance id", text),
    )


def _job_api_execute(u: _Url, i: int, page: str) -> Target:
    """JOB's notification links: no scope in them, so it comes from the caller's defaults."""
    text, segs = u.text, u.path
    ident = _seg(segs, i + 1)
    if not ident:
        raise TargetError(f"{text!r}: no job instance id; expected …/{page}/ID")
    job_id = _pos_int(ident, "the job instance id", text)
    if page == "api_execute_step":
        step = _seg(segs, i + 2)
        if not step:
            raise TargetError(f"{text!r}: no step instance id; expected …/api_execute_step/ID/STEP")
        focus: str | None = _pos_int(step, "the step instance id", text)
    else:
        raw = _focus(u.query.get("stepInstanceId"))
        focus = None if raw is None else _pos_int(raw, "the step instance id", text)
    if u.default_biz_set not in (None, ""):
        return Target(
            System.JOB,
            _pos_int(str(u.default_biz_set), "the business set id", text),
            job_id,
            "biz_set",
            focus=focus,
        )
    if u.default_biz not in (None, ""):
        return Target(System.JOB, _pos_int(str(u.default_biz), "the business id", text), job_id, focus=focus)
    raise MissingScope(
        f"{text!r}: a JOB {page} link does not say which business the job belongs to; {JOB_SCOPE_HINT}"
    )


def _match_taskflow(u: _Url) -> Target | None:
    """SOPS and BKFlow share `taskflow/execute/{id}/`; the query key tells them apart."""
    lowered, segs, query, text = u.lowered, u.path, u.query, u.text
    i = _index(lowered, "execute")
    if i == -1:
        return None
    before = _seg(lowered, i - 1)
    appmaker = _seg(lowered, i - 2) == "appmaker"
    if before not in ("taskflow", "function", "audit") and not appmaker:
        return None
    scope = _seg(segs, i + 1)
    sops_task, flow_task = query.get("instance_id"), query.get("instanceId")
    if scope and sops_task and not flow_task:
        return Target(
            System.SOPS,
            _pos_int(scope, "the project id", text),
            _pos_int(sops_task, "the task id", text),
            "project",
        )
    if scope and flow_task and not sops_task and before == "taskflow" and not appmaker:
        return Target(
            System.BKFLOW,
            _pos_int(scope, "the space id", text),
            _pos_int(flow_task, "the task id", text),
            "space",
        )
    raise TargetError(
        f"{text!r}: a task page is SOPS …/taskflow/execute/PROJECT/?instance_id=ID (also function/, "
        "audit/, appmaker/APP/) or BKFlow …/taskflow/execute/SPACE/?instanceId=ID"
    )


def _match_nodeman(u: _Url) -> Target | None:
    """NodeMan is a hash-mode app: its pages live in the fragment only."""
    frag, lowered, text = u.frag, u.frag_lowered, u.text
    if not lowered or lowered[0] not in ("task-list", "task-history"):
        if "task-list" in lowered or "task-history" in lowered:
            raise TargetError(f"{text!r}: not a NodeMan or GSEKit task page; expected {URL_FORMS}")
        if "task-list" in u.lowered and "gsekit" not in text.lower():
            raise TargetError(
                f"{text!r}: NodeMan pages live after '#/': …/#/task-list/detail/ID or "
                "…/#/task-list/ID/log/HOST"
            )
        return None
    focus = None
    if _seg(lowered, 1) == "detail" and len(frag) == 3:
        job_id = frag[2]
    elif _seg(lowered, 2) == "log" and len(frag) == 4:
        job_id, focus = frag[1], _focus(frag[3])
    else:
        raise TargetError(
            f"{text!r}: a NodeMan task page is …/#/task-list/detail/ID, …/#/task-list/ID/log/HOST "
            "(or the same under #/task-history/)"
        )
    return Target(System.NODEMAN, "", _pos_int(job_id, "the job id", text), focus=focus)


def _match_gsekit(u: _Url) -> Target | None:
    """GSEKit is a history-mode app; its router adds ?biz= to every page."""
    lowered, segs, text = u.lowered, u.path, u.text
    i = _index(lowered, "task-history", "detail")
    if i == -1:
        return None
    job_id = _seg(segs, i + 2)
    if not job_id or i + 3 != len(segs):
        raise TargetError(f"{text!r}: a GSEKit task page is …/task-history/detail/ID?biz=BIZ")
    biz = u.query.get("biz") or u.default_biz
    if biz is None or biz == "":
        raise MissingScope(
            f"{text!r}: this GSEKit page URL lost its ?biz=BIZ; add it back, or pass --biz BIZ "
            "(a NodeMan page would be …/#/task-history/detail/ID)"
        )
    return Target(
        System.GSEKIT, _pos_int(str(biz), "the business id", text), _pos_int(job_id, "the job id", text)
    )
