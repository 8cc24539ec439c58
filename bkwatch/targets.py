"""What to watch: canonical target strings and the BlueKing web-page URLs people copy.

Canonical forms (``str(target)`` gives them back) and URL forms are each system's own
(`systems/<name>/traits.py` and `urls.py`); this module parses with whichever system answers::

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
A URL that gives one key twice with different values names no one task: it is refused.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from bkwatch.model import System
from bkwatch.systems.registry import ALL, URL_MATCHERS, traits
from bkwatch.target import MAX_ECHO, MissingScope, Target, TargetError, Url, echo, pos_int, query_values

__all__ = [
    "CANONICAL_FORMS",
    "URL_FORMS",
    "MissingScope",
    "Target",
    "TargetError",
    "identity",
    "identity_of",
    "parse_target",
]

_URLISH = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|/|#")

CANONICAL_FORMS = ", ".join(f for t in ALL for f in t.canonical_forms)
URL_FORMS = "; ".join(t.url_forms for t in ALL)


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


def identity(target: Target) -> str:
    """One task's one key however it arrived (its system's `identity`): `sops:2:103` and
    `sops:project:5:103` are the same SOPS task, `nodeman:2:302` and `nodeman:302` the same job."""
    return traits(target.system).identity(target)


def identity_of(text: str) -> str:
    """`identity` of a saved target string; the string itself when it does not parse."""
    try:
        return identity(parse_target(text))
    except TargetError:
        return text


def _parse_canonical(text: str) -> Target:
    parts = [p.strip() for p in text.split(":")]
    try:
        system = System(parts[0].lower())
    except ValueError:
        raise TargetError(
            f"unknown system {echo(parts[0], 40)} in {echo(text)}; expected one of "
            f"{CANONICAL_FORMS} or a BlueKing task URL"
        ) from None
    t = traits(system)
    rest = parts[1:]
    scope_type = t.scope_kinds[0]
    if t.scopeless and len(rest) == 1:
        return Target(system, "", pos_int(rest[0], "the job id", text))
    if len(rest) == 3:
        kind = rest[0].lower()
        if len(t.scope_kinds) < 2 or kind not in t.scope_kinds:
            raise TargetError(f"{echo(text)}: unexpected scope {echo(rest[0], 40)}; {t.forms_hint()}")
        scope_type, rest = kind, rest[1:]
    if len(rest) != 2:
        raise TargetError(f"{echo(text)} does not look like a {system} target; {t.forms_hint()}")
    scope = pos_int(rest[0], t.scope_word, text)
    ident = pos_int(rest[1], "the task id", text)
    return Target(system, scope, ident, scope_type)


def _parse_url(text: str, default_biz: str | int | None, default_biz_set: str | int | None) -> Target:
    if "://" not in text and not text.startswith(("/", "#")):
        text = "//" + text  # "paas.example.com/o/bk_sops/..." without a scheme
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise TargetError(f"not a valid URL {echo(text)}: {exc}") from None
    frag_path, _, frag_query = parts.fragment.partition("?")
    path = [s for s in parts.path.split("/") if s]
    frag = [s for s in frag_path.split("/") if s]
    page_query, frag_values = query_values(parts.query), query_values(frag_query)
    for key in page_query.keys() & frag_values.keys():
        if page_query[key] != frag_values[key]:
            raise TargetError(
                f"the URL gives {key!r} twice with different values; which task is meant is ambiguous"
            )
    url = Url(
        text if len(text) <= MAX_ECHO else text[:MAX_ECHO] + "…",
        path,
        [s.lower() for s in path],
        frag,
        [s.lower() for s in frag],
        {**page_query, **frag_values},
        default_biz,
        default_biz_set,
    )
    for matcher in URL_MATCHERS:
        target = matcher(url)
        if target is not None:
            return target
    raise TargetError(f"unrecognised BlueKing URL {echo(text)}; expected a task page: {URL_FORMS}")
