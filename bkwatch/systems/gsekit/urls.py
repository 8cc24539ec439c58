"""GSEKit task pages (history mode; its router adds ?biz= to every page)."""

from __future__ import annotations

from bkwatch.model import System
from bkwatch.target import MissingScope, Target, TargetError, Url, find_route, pos_int, seg

FORMS = "GSEKit …/task-history/detail/ID?biz=BIZ"


def match_url(u: Url) -> Target | None:
    """GSEKit is a history-mode app; its router adds ?biz= to every page."""
    lowered, segs, text = u.lowered, u.path, u.text
    i = find_route(lowered, "task-history", "detail")
    if i == -1:
        return None
    job_id = seg(segs, i + 2)
    if not job_id or i + 3 != len(segs):
        raise TargetError(f"{text!r}: a GSEKit task page is …/task-history/detail/ID?biz=BIZ")
    biz = u.query.get("biz") or u.default_biz
    if biz is None or biz == "":
        raise MissingScope(
            f"{text!r}: this GSEKit page URL lost its ?biz=BIZ; add it back, or pass --biz BIZ "
            "(a NodeMan page would be …/#/task-history/detail/ID)"
        )
    return Target(
        System.GSEKIT, pos_int(str(biz), "the business id", text), pos_int(job_id, "the job id", text)
    )
