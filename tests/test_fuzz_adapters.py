"""Hostile input: every adapter, fed mutated real payloads and arbitrary JSON, returns a well-typed
Task or raises BkError(BAD_RESPONSE); nothing else escapes, and the model's derived views
(`counts`, `progress`, `failures`, `poller.diff`) work on whatever it returned.

The payloads are captured once per module from the simulator through the real client (see
tests/fuzz_shapes.py): finished, failed, running and waiting tasks of each system, SOPS trees with
subprocesses and ex_data, engine-v1 and BKFlow trees, NodeMan v2 (one page and paged) and v1,
GSEKit with rows and with counts only. Each example applies one to four mutations at random paths:
drop a field, retype it, wrap it in a list or object, enlarge it, unknown enum values, empty
containers, strings up to 1 MB, lists, objects, subprocesses and JSON text 65-1,000 levels deep.

Examples per system: 200 mutated + 66 arbitrary-JSON payloads by default (about 10 s of tests).
A longer run: `BKWATCH_FUZZ_EXAMPLES=5000 python -m pytest tests/test_fuzz_adapters.py` (mutated
examples per system; arbitrary-JSON ones are a third of that). The number tried per system
(including the unmutated and pinned payloads) is printed at the end of the run. No example
database is written (`database=None`).
"""

from __future__ import annotations

import math
import os
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bkwatch.model import (
    BkError,
    ErrorKind,
    Failure,
    Host,
    JobTask,
    Node,
    State,
    Step,
    Task,
    Transition,
    failures,
)
from bkwatch.poller import diff
from bkwatch.systems import common
from bkwatch.systems.nodeman import poll as nodeman
from bkwatch.text import clean_text
from tests.fuzz_shapes import JSON_VALUES, SYSTEMS, Case, capture_cases, copy_json, deep_chain, mutated

EXAMPLES = int(os.environ.get("BKWATCH_FUZZ_EXAMPLES", "200"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
ARBITRARY = settings(FUZZ, max_examples=max(20, EXAMPLES // 3))
# A parse is linear in its input; a quadratic one takes minutes on a 1 MB string, not seconds.
SLOW_PARSE = 5.0
MAX_NODES = 100_000  # more nodes than any payload here could describe: the walk did not end

TRIED: Counter[str] = Counter()
CASES: list[Case] = []


@pytest.fixture(scope="module", autouse=True)
def captured(request: pytest.FixtureRequest) -> Iterator[None]:
    CASES.extend(capture_cases())
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None and TRIED:
        counts = ", ".join(f"{s} {TRIED[s]}" for s in SYSTEMS)
        with capture.global_and_fixture_disabled():  # shown without -s, like capsys.disabled()
            reporter.write_line(f"\nfuzzed adapter examples per system: {counts}")


def cases_of(system: str) -> list[Case]:
    return [c for c in CASES if c.system == system]


# -- the property ---------------------------------------------------------------------------


def check_text(value: Any, what: str) -> None:
    assert type(value) is str, f"{what}: {type(value).__name__}"
    assert clean_text(value) == value, f"{what}: escape or control character in {value[:80]!r}"


def check_opt_text(value: Any, what: str) -> None:
    if value is not None:
        check_text(value, what)


def check_time(value: Any, what: str) -> None:
    # The TUI formats these (int(), strftime): NaN or infinity would crash it.
    assert value is None or (type(value) is float and math.isfinite(value)), f"{what}: {value!r}"


def check_int(value: Any, what: str, *, optional: bool = False) -> None:
    assert (optional and value is None) or type(value) is int, f"{what}: {value!r}"


def check_host(host: Any, key: Any) -> None:
    assert type(host) is Host
    check_text(key, "host key")
    assert key == host.key == f"{host.cloud_id}:{host.ip}"
    check_text(host.ip, "host ip")
    check_int(host.cloud_id, "cloud id")
    assert isinstance(host.state, State)
    for name in ("raw_status", "status_text", "error_text", "tag", "step"):
        check_text(getattr(host, name), f"host {name}")
    check_opt_text(host.error_code, "host error_code")
    check_int(host.host_id, "host id", optional=True)
    check_int(host.exit_code, "exit code", optional=True)
    for name in ("start", "end", "elapsed"):
        check_time(getattr(host, name), f"host {name}")


def check_step(step: Any) -> None:
    assert type(step) is Step
    for name in ("id", "name", "kind", "raw_state"):
        check_text(getattr(step, name), f"step {name}")
    assert isinstance(step.state, State)
    check_int(step.execute_count, "execute_count")
    for name in ("start", "end", "elapsed"):
        check_time(getattr(step, name), f"step {name}")
    assert type(step.hosts) is dict
    for key, host in step.hosts.items():
        check_host(host, key)


def check_job_task(key: Any, jt: Any) -> None:
    assert type(jt) is JobTask
    check_text(key, "job task key")
    assert key == jt.id
    assert isinstance(jt.state, State)
    for name in ("raw_state", "failed_reason", "ip", "process"):
        check_text(getattr(jt, name), f"job task {name}")
    check_opt_text(jt.err_code, "job task err_code")
    assert jt.retryable is None or type(jt.retryable) is bool
    assert type(jt.solutions) is list
    for text in jt.solutions:
        check_text(text, "solution")
    check_int(jt.cloud_id, "job task cloud id", optional=True)
    check_time(jt.start, "job task start")
    check_time(jt.end, "job task end")


def check_tree(root: Node) -> None:
    for walked, (node, depth) in enumerate(root.walk()):
        assert walked < MAX_NODES, "the node walk does not end"
        assert type(node) is Node and type(depth) is int
        for name in ("id", "name", "raw_state", "message"):
            check_text(getattr(node, name), f"node {name}")
        assert isinstance(node.state, State)
        check_int(node.retry, "retry")
        check_int(node.loop, "loop")
        assert type(node.skip) is bool
        for name in ("start", "end", "elapsed"):
            check_time(getattr(node, name), f"node {name}")
        assert type(node.children) is list


def check_task(task: Any, case: Case) -> None:
    assert type(task) is Task
    assert task.system is case.baseline.system and task.target == case.baseline.target
    assert isinstance(task.state, State)
    check_text(task.raw_state, "raw_state")
    assert type(task.terminal) is bool
    check_opt_text(task.name, "task name")
    check_text(task.detail, "detail")
    for name in ("start", "end", "elapsed"):
        check_time(getattr(task, name), f"task {name}")
    for step in task.steps:
        check_step(step)
    for key, host in task.hosts.items():
        check_host(host, key)
    for key, jt in task.job_tasks.items():
        check_job_task(key, jt)
    if task.status_counts is not None:
        for state, n in task.status_counts.items():
            assert isinstance(state, State)
            check_int(n, "status count")
            assert n >= 0, f"negative count {n}"
    if task.root is not None:
        check_tree(task.root)
    check_views(task, case.baseline)


def check_views(task: Task, baseline: Task) -> None:
    """What the UI and CLI derive from a snapshot must work on any snapshot an adapter returns."""
    counts = task.counts()
    assert all(isinstance(s, State) and type(n) is int and n > 0 for s, n in counts.items())
    done, total = task.progress()
    assert type(done) is int and type(total) is int and 0 <= done <= total
    for failure in failures(task):
        assert type(failure) is Failure
        for name in ("kind", "id", "reason"):
            check_text(getattr(failure, name), f"failure {name}")
    for old, new in ((None, task), (baseline, task), (task, baseline), (task, task)):
        for transition in diff(old, new, 1.0):
            assert type(transition) is Transition and isinstance(transition.new, State)
            check_text(transition.name, "transition name")


def parse_checked(case: Case, payload: Any) -> Task | None:
    """The property: a well-typed Task, or BkError(BAD_RESPONSE). Anything else propagates."""
    TRIED[case.system] += 1
    started = time.perf_counter()
    try:
        task = case.parse(payload)
    except BkError as exc:
        assert exc.kind is ErrorKind.BAD_RESPONSE, f"{case.label}: {exc.kind}: {exc.message}"
        check_text(exc.message, "error message")
        return None
    finally:
        assert time.perf_counter() - started < SLOW_PARSE, f"{case.label}: parse took too long"
    check_task(task, case)
    return task


# -- the tests ------------------------------------------------------------------------------


def test_captured_payloads_cover_every_shape() -> None:
    by_system = {s: cases_of(s) for s in SYSTEMS}
    assert all(len(cases) >= 4 for cases in by_system.values()), {s: len(c) for s, c in by_system.items()}
    for case in CASES:
        assert parse_checked(case, case.payload) is not None, case.label
    states = {s: {c.baseline.state for c in cases} for s, cases in by_system.items()}
    assert all({State.SUCCEEDED, State.FAILED, State.RUNNING} <= found for found in states.values()), states
    job_steps = max(len(c.baseline.steps) for c in by_system["job"])
    assert job_steps >= 2
    trees = [c.baseline.root for c in by_system["sops"] + by_system["bkflow"] if c.baseline.root]
    assert max(depth for root in trees for _, depth in root.walk()) >= 2  # subprocesses
    assert any(n.message for root in trees for n, _ in root.walk())  # ex_data
    assert any(c.label.endswith(" v1") for c in by_system["nodeman"])
    (paged,) = [c for c in by_system["nodeman"] if c.min_depth]
    assert len(paged.payload) == 3 and len(paged.baseline.hosts) > 6  # rows of every page
    gsekit = by_system["gsekit"]
    assert any(c.baseline.job_tasks for c in gsekit)
    assert any(not c.baseline.job_tasks and c.baseline.status_counts for c in gsekit)


@pytest.mark.parametrize("system", SYSTEMS)
@FUZZ
@given(data=st.data())
def test_mutated_real_payloads(system: str, data: st.DataObject) -> None:
    case = data.draw(st.sampled_from(cases_of(system)), label="case")
    parse_checked(case, data.draw(mutated(case), label="payload"))


@pytest.mark.parametrize("system", SYSTEMS)
@ARBITRARY
@given(data=st.data())
def test_arbitrary_json_payloads(system: str, data: st.DataObject) -> None:
    case = data.draw(st.sampled_from(cases_of(system)), label="case")
    if case.min_depth:  # NodeMan pages: the first page and the later ones
        payload: Any = data.draw(st.lists(JSON_VALUES, min_size=1, max_size=3), label="pages")
    else:
        payload = data.draw(JSON_VALUES, label="payload")
    parse_checked(case, payload)


# -- what the fuzzer found, pinned: each of these escaped or misbehaved before its fix -------


def case(label: str) -> Case:
    (found,) = [c for c in CASES if c.label == label]
    return found


def payload_of(label: str) -> Any:
    return copy_json(case(label).payload)


@pytest.mark.parametrize("pattern", ["<", "<br", "<script", "<a href=x"])
def test_html_stripping_is_linear_on_unclosed_tags(pattern: str) -> None:
    # Each unclosed "<" made the tag regexes rescan the rest of the text: 200 KB took ~30 s.
    text = pattern * (200_000 // len(pattern))
    started = time.perf_counter()
    assert common.html_to_text(text + "<b>ok</b>").endswith("ok")
    data = payload_of("nodeman:2:302 v2")
    data["list"][0].update(status="FAILED", status_display=text)
    task = parse_checked(case("nodeman:2:302 v2"), data)
    assert task is not None and len(next(iter(task.hosts.values())).error_text) <= 2000
    assert time.perf_counter() - started < 2.0


def test_deeply_nested_values_are_cut_not_recursed() -> None:
    # readable() recursed once per level: a 1,000-level list (or JSON text) was a RecursionError.
    deep: Any = "leaf"
    for _ in range(1000):
        deep = [deep]
    data = payload_of("job:2:20002")
    data["step_instance_list"][0]["name"] = deep
    task = parse_checked(case("job:2:20002"), data)
    assert task is not None and task.steps[0].name == "…"
    tree = payload_of("sops:2:102")
    node_id = next(iter(tree["children"]))
    tree["ex_data"] = {node_id: "[" * 1000 + "]" * 1000}
    sops_task = parse_checked(case("sops:2:102"), tree)
    assert sops_task is not None and sops_task.root is not None
    assert {n.id: n for n, _ in sops_task.root.walk()}[node_id].message == "…"


def test_container_states_are_unknown_not_type_errors() -> None:
    # `raw in TERMINAL` with a list or object state raised TypeError (unhashable).
    tree = payload_of("sops:2:104")
    tree["state"], tree["finish_time"] = {"FAILED": 1}, None
    task = parse_checked(case("sops:2:104"), tree)
    assert task is not None and (task.state, task.terminal) == (State.UNKNOWN, False)
    data = payload_of("nodeman:2:301 v2")
    data["status"] = ["SUCCESS"]
    data["list"][0].update(status=["FAILED"], status_display="")
    nm = parse_checked(case("nodeman:2:301 v2"), data)
    assert nm is not None and (nm.state, nm.terminal, nm.raw_state) == (State.UNKNOWN, False, "SUCCESS")
    assert next(iter(nm.hosts.values())).state is State.UNKNOWN


def test_non_finite_numbers_become_unknown() -> None:
    # "nan" / "inf" strings became float NaN / inf, and duration() in the TUI raised on them.
    tree = payload_of("sops:2:101")
    tree["elapsed_time"] = "nan"
    data = payload_of("nodeman:2:302 v2")
    data["cost_time"], data["list"][0]["cost_time"] = "inf", "-1e400"
    job_data = payload_of("job:2:20001")
    job_data["job_instance"]["total_time"] = "1e400"
    for label, payload in (("sops:2:101", tree), ("nodeman:2:302 v2", data), ("job:2:20001", job_data)):
        task = parse_checked(case(label), payload)
        assert task is not None and task.elapsed is None, label
    assert common.to_float("nan") is None and common.to_float(float("inf")) is None


def test_time_text_outside_the_local_calendar(monkeypatch: pytest.MonkeyPatch) -> None:
    # East of UTC, "0001-01-01 00:00:00" has no epoch time: timestamp() raised ValueError.
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    common._parse_time_text.cache_clear()  # answers cached in UTC would hide the bug
    try:
        data = payload_of("nodeman:2:302 v1")
        data["start_time"], data["end_time"] = "0001-01-01 00:00:00", "9999-12-31 23:59:59"
        task = parse_checked(case("nodeman:2:302 v1"), data)
        assert task is not None and (task.start, task.end, task.elapsed) == (None, None, None)
    finally:
        monkeypatch.undo()
        time.tzset()
        common._parse_time_text.cache_clear()


def test_negative_counters_do_not_make_progress_impossible() -> None:
    data = payload_of("gsekit:2:803")
    data["status_counter"] = {"succeeded": 3, "failed": -(2**63), "running": "-4"}
    task = parse_checked(case("gsekit:2:803"), data)
    assert task is not None and task.counts() == {State.SUCCEEDED: 3} and task.progress() == (3, 3)


def test_server_values_in_ids_keys_and_raw_states_are_plain() -> None:
    # Raw states, error codes, ips and node ids (BKFlow shows ids as names) went out verbatim.
    osc = "\x1b]0;owned\x07"
    data = payload_of("job:2:20002")
    row = data["step_instance_list"][0]["step_ip_result_list"][0]
    row.update(ip=f"10.0.0.9{osc}", status=f"99{osc}", error_code=f"E{osc}", bk_host_id={"x": 1})
    task = parse_checked(case("job:2:20002"), data)
    assert task is not None
    host = next(iter(task.steps[0].hosts.values()))
    assert (host.ip, host.raw_status, host.error_code, host.host_id) == ("10.0.0.9", "99", "E", None)
    tree = payload_of("bkflow:1:502")
    child = next(iter(tree["children"].values()))
    child["id"], child["state"] = f"n1{osc}", f"FAILED{osc}"
    flow = parse_checked(case("bkflow:1:502"), tree)
    assert flow is not None and flow.root is not None
    assert [(n.id, n.name, n.raw_state) for n in flow.root.children[:1]] == [("n1", "n1", "FAILED")]


def test_huge_strings_are_not_kept_in_parse_caches() -> None:
    # Both caches keyed on whole server strings: 8,192 or 4,096 entries of 1 MB each.
    huge = "2024-05-01 10:02:03" + " " * 1_000_000
    before = common._parse_time_text.cache_info().currsize
    assert common.parse_time_text(huge) is None
    assert common._parse_time_text.cache_info().currsize == before
    data = payload_of("nodeman:2:303 v2")
    data["list"][0]["status_display"] = "安装中 " * 200_000
    assert parse_checked(case("nodeman:2:303 v2"), data) is not None
    assert max(map(len, nodeman._PLAIN), default=0) <= 512


@pytest.mark.parametrize("label", ["sops:2:102", "bkflow:1:503"])
def test_a_500_level_subprocess_chain_is_a_bad_response(label: str) -> None:
    tree = payload_of(label)
    chain = deep_chain("node", 500)
    next(iter(tree["children"].values()))["children"] = {"deep": chain}
    with pytest.raises(BkError) as err:
        case(label).parse(tree)
    assert err.value.kind is ErrorKind.BAD_RESPONSE and "nested too deeply" in err.value.message
