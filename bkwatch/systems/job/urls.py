"""JOB page URLs (bk-apis §10.1): execution pages by business or business set, and the
notification links (`api_execute`) that carry no business."""

from __future__ import annotations

from bkwatch.model import System
from bkwatch.target import (
    MissingScope,
    Target,
    TargetError,
    Url,
    find_route,
    focus_value,
    is_int_text,
    pos_int,
    seg,
)

FORMS = (
    "JOB …/biz/BIZ/execute/task/ID, …/biz_set/ID/execute/task/ID, …/biz/BIZ/execute/step/ID, "
    "…/biz/BIZ/execute/quick-launch/ID, …/api_execute/ID, …/api_execute_step/ID/STEP"
)
JOB_SCOPE_HINT = (
    "pass --biz BIZ or --biz-set ID, fill in the business in the add dialog, "
    "or set default_biz in the profile"
)


def match_url(u: Url) -> Target | None:
    lowered, segs, text = u.lowered, u.path, u.text
    for page in ("api_execute", "api_execute_step"):
        i = find_route(lowered, page)
        if i != -1:
            return _job_api_execute(u, i, page)
    i = find_route(lowered, "execute")
    if i == -1 or seg(lowered, i + 1) not in ("task", "step", "quick-launch"):
        return None
    if seg(lowered, i - 1) in ("taskflow", "function", "audit"):
        return None  # a SOPS/BKFlow page
    page = lowered[i + 1]
    scope, kind = seg(segs, i - 1), seg(lowered, i - 2)
    if kind not in ("biz", "biz_set") or scope is None or not is_int_text(scope):
        raise TargetError(
            f"{text!r}: a JOB execution page is …/biz/BIZ/execute/{page}/ID or "
            f"…/biz_set/ID/execute/{page}/ID; expected a task page: {FORMS}"
        )
    ident = seg(segs, i + 2)
    if not ident:
        raise TargetError(f"{text!r}: no job instance id in the JOB URL; expected …/execute/{page}/ID")
    focus = focus_value(u.query.get("stepInstanceId")) if page == "step" else None
    return Target(
        System.JOB,
        pos_int(scope, "the business id", text),
        pos_int(ident, "the job instance id", text),
        kind,
        focus=None if focus is None else pos_int(focus, "the step instance id", text),
    )


def _job_api_execute(u: Url, i: int, page: str) -> Target:
    """JOB's notification links: no scope in them, so it comes from the caller's defaults."""
    text, segs = u.text, u.path
    ident = seg(segs, i + 1)
    if not ident:
        raise TargetError(f"{text!r}: no job instance id; expected …/{page}/ID")
    job_id = pos_int(ident, "the job instance id", text)
    if page == "api_execute_step":
        step = seg(segs, i + 2)
        if not step:
            raise TargetError(f"{text!r}: no step instance id; expected …/api_execute_step/ID/STEP")
        focus: str | None = pos_int(step, "the step instance id", text)
    else:
        raw = focus_value(u.query.get("stepInstanceId"))
        focus = None if raw is None else pos_int(raw, "the step instance id", text)
    if u.default_biz_set not in (None, ""):
        return Target(
            System.JOB,
            pos_int(str(u.default_biz_set), "the business set id", text),
            job_id,
            "biz_set",
            focus=focus,
        )
    if u.default_biz not in (None, ""):
        return Target(System.JOB, pos_int(str(u.default_biz), "the business id", text), job_id, focus=focus)
    raise MissingScope(
        f"{text!r}: a JOB {page} link does not say which business the job belongs to; {JOB_SCOPE_HINT}"
    )
