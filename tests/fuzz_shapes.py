"""Real-shaped payloads captured from the simulator, and hypothesis strategies that break them.

Used by tests/test_fuzz_adapters.py. A `Case` is one `data` payload exactly as the client
returned it for a real fetch, the parser that reads it, and the Task it gave unmutated.
`mutated(case)` draws that payload with one to four random mutations at random paths;
`JSON_VALUES` draws any value orjson could have decoded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx
import orjson
from hypothesis import strategies as st

from bkwatch.client import UNCHANGED, BkClient
from bkwatch.model import System, Task
from bkwatch.sim import SimConfig, Simulator
from bkwatch.systems.adapters import fetch_task
from bkwatch.systems.nodeman import poll as nodeman
from bkwatch.targets import Target, parse_target
from tests.conftest import T0, sim_profile

# Grouping used for counting examples: NodeMan's v2, paged v2 and v1 payloads are one system.
SYSTEMS = ("job", "sops", "bkflow", "nodeman", "gsekit")


@dataclass(frozen=True)
class Case:
    system: str
    label: str  # the target, plus how it was fetched
    parse: Callable[[Any], Task]
    payload: Any  # never modified: every example works on its own copy
    baseline: Task
    min_depth: int = 0  # paths shorter than this are structure of the test, not of the server


class RecordingClient(BkClient):
    """The real client; each `data` it returns is kept for the fuzzer."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.answers: list[Any] = []

    async def call(self, *args: Any, **kwargs: Any) -> Any:
        data = await super().call(*args, **kwargs)
        self.answers.append(data)
        return data

    async def call_unless(self, *args: Any, **kwargs: Any) -> tuple[Any, int]:
        data, fingerprint = await super().call_unless(*args, **kwargs)
        if data is not UNCHANGED:
            self.answers.append(data)
        return data, fingerprint


def _parse_pages(target: Target, doc: list[Any]) -> Task:
    return nodeman.parse(doc[0], target, pages=doc[1:])


async def _capture() -> list[Case]:
    # Small worlds: every example copies and walks its payload, so a few hosts per step suffice.
    small = {"job_hosts": 4, "nodeman_hosts": 7, "pipeline_nodes": 4, "gsekit_tasks": 3}
    sims = {
        "": Simulator(SimConfig(seed=1, frozen=True, clock=lambda: T0, **small)),
        " rows": Simulator(
            SimConfig(seed=1, frozen=True, clock=lambda: T0, gsekit_rows_without_ids=True, **small)
        ),
    }
    cases: list[Case] = []
    for suffix, sim in sims.items():
        client = RecordingClient(sim_profile(), transport=httpx.ASGITransport(app=sim.app))
        async with client:
            for info in sim.world.tasks():
                if suffix and info.system != "gsekit":
                    continue
                if info.target == "bkflow:7:506":  # bound to another app: no payload to fuzz
                    continue
                target = parse_target(info.target)
                module = __import__(f"bkwatch.systems.{info.system}.poll", fromlist=["parse"])
                versions = ["v2", "v1"] if info.system == "nodeman" else [""]
                for version in versions:
                    client.nodeman_api = version or "v2"
                    client.answers.clear()
                    task = await fetch_task(client, target)
                    (data,) = client.answers
                    parse = module.parse_v1 if version == "v1" else module.parse
                    label = f"{info.target}{' ' + version if version else ''}{suffix}"
                    cases.append(Case(info.system, label, partial(parse, target=target), data, task))
            if not suffix:
                cases.append(await _paged_case(client, "nodeman:2:302"))
    return cases


async def _paged_case(client: BkClient, target_text: str) -> Case:
    """NodeMan v2 in pages of 3 rows, parsed as `fetch` does: first page plus the rest."""
    target = parse_target(target_text)
    path = f"api/job/{target.id}/details/"
    pages: list[Any] = []
    for n in range(1, 4):
        params = {"pagesize": 3, "page": n}
        pages.append(await client.call(System.NODEMAN, path, via="apigw", method="POST", params=params))
    parse = partial(_parse_pages, target)
    return Case("nodeman", f"{target_text} v2 paged", parse, pages, parse(pages), min_depth=1)


def capture_cases() -> list[Case]:
    return asyncio.run(_capture())


def copy_json(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value))


# -- values a server could send -------------------------------------------------------------

# Terminal escapes, markup, bidi and HTML: the text every sanitiser has to survive.
HOSTILE = (
    "\x1b[31mred\x1b[0m",
    "\x1b]0;pwned\x07",
    "\x1b]52;c;ZWNobyBoaQ==\x07",
    "\x9b2J",
    "[bold red]x[/]",
    "\u202eevil\u202c",
    "a\x00b\x07c\x7fd\x85",
    "<script>alert(1)</script>",
    "<b>x</b><br>&amp;&#x1b;",
    "<",
    "<br",
    "<script",
    "<a href=",
    "<style><",
    "&",
    "\n \n",
    "2024-05-01 10:02:03 +0800",
    "1e400",
    "nan",
    "inf",
    "-1",
    "[" * 900 + "]" * 900,
    '{"a":' * 500 + "1" + "}" * 500,
)
INTS = st.one_of(
    st.integers(-(2**63), 2**64 - 1),
    st.sampled_from([0, 1, -1, 2**31, 2**53 + 1, 2**63 - 1, 2**64 - 1, -(2**63)]),
)
# orjson refuses NaN and infinity, and reads integers beyond 64 bits as floats.
FLOATS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e308, -1e308, 1.8446744073709552e19, 0.5, -0.0, 5e-324]),
)
TEXT = st.one_of(st.text(max_size=40), st.sampled_from(HOSTILE))
SCALARS = st.one_of(st.none(), st.booleans(), INTS, FLOATS, TEXT)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6), st.dictionaries(st.text(max_size=12), inner, max_size=6)
    ),
    max_leaves=40,
)
# Any other type than the one the payload has: containers of scalars, and lists of objects.
RETYPED = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=4),
    st.dictionaries(st.text(max_size=8), SCALARS, max_size=4),
    st.lists(st.dictionaries(st.text(max_size=8), SCALARS, max_size=3), min_size=1, max_size=3),
)
# Status fields: raw values no adapter table has, in ints and strings of every flavour.
UNKNOWN_ENUMS = st.one_of(
    st.integers(-1000, 100_000),
    st.text(max_size=20),
    st.sampled_from(["", " ", "running ", "Running", "SUCCESS\x1b[31m", "None", "4.0", "1e3", "-5", "０"]),
    FLOATS,
)
STATE_KEYS = frozenset({"status", "state", "type", "raw_state", "err_code", "error_code", "job_type"})


def _paths(doc: Any, min_depth: int, limit: int = 4000) -> list[tuple[Any, ...]]:
    """Paths to every value (iteratively, bounded: a fuzzed document may be 1,000 levels deep)."""
    out: list[tuple[Any, ...]] = []
    stack: list[tuple[tuple[Any, ...], Any]] = [((), doc)]
    while stack and len(out) < limit:
        path, value = stack.pop()
        if len(path) >= min_depth:
            out.append(path)
        if len(path) >= 40:
            continue
        if isinstance(value, dict):
            stack.extend(((*path, k), v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend(((*path, i), v) for i, v in enumerate(value))
    return out


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def deep_chain(kind: str, depth: int) -> Any:
    """A chain `depth` levels deep, built bottom-up so nothing here recurses. orjson reads up to
    1,024 levels, and a string may hold JSON text of any depth."""
    if kind == "json text":
        return "[" * depth + "]" * depth
    value: Any = "leaf"
    for i in range(depth):
        if kind == "list":
            value = [value]
        elif kind == "dict":
            value = {"children": value}
        else:  # a pipeline subprocess inside a subprocess inside …
            value = {"id": f"n{i}", "state": "RUNNING", "name": f"level {i}", "children": {f"n{i}": value}}
    return value


def _huge_text(pattern: str, size: int) -> str:
    return (pattern or "x") * (size // max(1, len(pattern)) + 1)


def _focus(draw: st.DrawFn, box: list[Any], paths: list[tuple[Any, ...]], op: str, min_depth: int) -> Any:
    """Most paths lead into host rows; the fields above them, the status fields and the strings
    would rarely be picked from all paths alike, so a focus is drawn first."""
    focus = "state" if op == "enum" else draw(st.sampled_from(["any", "state", "shallow", "text"]))
    if focus == "state":
        chosen = [p for p in paths if p and p[-1] in STATE_KEYS]
    elif focus == "shallow":
        chosen = [p for p in paths if len(p) <= min_depth + 2]
    elif focus == "text" or op == "huge":
        chosen = [p for p in paths if isinstance(_get(box, p), str)]
    else:
        chosen = paths
    return chosen or paths


MAX_ITEMS = 3000  # list items after enlarging
MAX_CHARS = 1_000_000  # string length after enlarging
OPS = ("drop", "retype", "retype", "wrap", "enlarge", "enum", "enum", "empty", "huge", "deep")


@st.composite
def mutated(draw: st.DrawFn, case: Case) -> Any:
    """A copy of `case.payload` with one to four mutations at random paths."""
    box = [copy_json(case.payload)]  # the root has a parent too, so it can be replaced
    min_depth = case.min_depth + 1  # paths into `box`
    for _ in range(draw(st.integers(1, 4), label="mutations")):
        op = draw(st.sampled_from(OPS), label="op")
        paths = _paths(box, min_depth)
        if op == "drop":
            paths = [p for p in paths if len(p) > min_depth]
        if not paths:
            continue
        path = draw(st.sampled_from(_focus(draw, box, paths, op, min_depth)), label="path")
        parent, key = _get(box, path[:-1]), path[-1]
        value = parent[key]
        if op == "drop":
            del parent[key]
        elif op == "retype":
            parent[key] = draw(RETYPED)
        elif op == "wrap":
            parent[key] = [value] if draw(st.booleans(), label="as list") else {"value": value}
        elif op == "enlarge":
            times = draw(st.integers(2, 300))
            # Bounded like a real response: a list enlarged twice would hold 600,000 host rows.
            if isinstance(value, list) and value:
                parent[key] = value * max(1, min(times, MAX_ITEMS // len(value)))
            elif isinstance(value, dict):
                parent[key] = {**value, **{f"extra_{i}": draw(SCALARS) for i in range(min(times, 20))}}
            elif isinstance(value, str):
                parent[key] = value * max(1, min(times, MAX_CHARS // max(1, len(value))))
            else:
                parent[key] = draw(st.sampled_from([2**64 - 1, -(2**63), 1e308, 1.8446744073709552e19]))
        elif op == "enum":
            parent[key] = draw(UNKNOWN_ENUMS)
        elif op == "empty":
            parent[key] = type(value)() if isinstance(value, dict | list | str) else 0
        elif op == "huge":
            size = draw(st.sampled_from([10_000, 100_000, MAX_CHARS]), label="size")
            parent[key] = _huge_text(draw(st.one_of(st.sampled_from(HOSTILE), TEXT)), size)
        else:
            kind = draw(st.sampled_from(["list", "dict", "node", "json text"]))
            depth = draw(st.one_of(st.integers(65, 1000), st.sampled_from([500, 1000])), label="depth")
            parent[key] = deep_chain(kind, depth)
    return box[0]
