"""NodeMan task pages: a hash-mode app, so the page is in the `#/` fragment only."""

from __future__ import annotations

from bkwatch.model import System
from bkwatch.target import Target, TargetError, Url, focus_value, pos_int, seg

FORMS = "NodeMan …/#/task-list/detail/ID, …/#/task-list/ID/log/HOST, …/#/task-history/detail/ID"


def match_url(u: Url) -> Target | None:
    """NodeMan is a hash-mode app: its pages live in the fragment only."""
    frag, lowered, text = u.frag, u.frag_lowered, u.text
    if not lowered or lowered[0] not in ("task-list", "task-history"):
        if "task-list" in lowered or "task-history" in lowered:
            raise TargetError(
                f"{text!r}: not a NodeMan or GSEKit task page; expected {FORMS} "
                "or GSEKit …/task-history/detail/ID?biz=BIZ"
            )
        if "task-list" in u.lowered and "gsekit" not in text.lower():
            raise TargetError(
                f"{text!r}: NodeMan pages live after '#/': …/#/task-list/detail/ID or "
                "…/#/task-list/ID/log/HOST"
            )
        return None
    focus = None
    if seg(lowered, 1) == "detail" and len(frag) == 3:
        job_id = frag[2]
    elif seg(lowered, 2) == "log" and len(frag) == 4:
        job_id, focus = frag[1], focus_value(frag[3])
    else:
        raise TargetError(
            f"{text!r}: a NodeMan task page is …/#/task-list/detail/ID, …/#/task-list/ID/log/HOST "
            "(or the same under #/task-history/)"
        )
    return Target(System.NODEMAN, "", pos_int(job_id, "the job id", text), focus=focus)
