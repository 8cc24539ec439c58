"""Target parsing: canonical strings for every system, the BlueKing page URLs, and garbage."""

from __future__ import annotations

import pytest

from bkwatch.model import System
from bkwatch.targets import MissingScope, Target, TargetError, parse_target


@pytest.mark.parametrize(
    ("text", "system", "scope", "ident", "scope_type"),
    [
        ("job:2:42", System.JOB, "2", "42", "biz"),
        ("job:biz_set:9991:7", System.JOB, "9991", "7", "biz_set"),
        ("sops:2:10", System.SOPS, "2", "10", "biz"),
        ("sops:project:5:10", System.SOPS, "5", "10", "project"),
        ("bkflow:1:300", System.BKFLOW, "1", "300", "space"),
        ("nodeman:3:187", System.NODEMAN, "3", "187", "biz"),
        ("nodeman:187", System.NODEMAN, "", "187", "biz"),
        ("gsekit:2:55", System.GSEKIT, "2", "55", "biz"),
    ],
)
def test_canonical_round_trip(text: str, system: System, scope: str, ident: str, scope_type: str) -> None:
    target = parse_target(text)
    assert target == Target(system, scope, ident, scope_type)
    assert str(target) == text
    assert parse_target(str(target)) == target


def test_whitespace_case_and_leading_zeros_normalise() -> None:
    assert str(parse_target("  JOB:BIZ_SET:9991:0042 \n")) == "job:biz_set:9991:42"
    assert str(parse_target("SoPs : Project : 5 : 9")) == "sops:project:5:9"
    assert str(parse_target("job:biz:2:42")) == "job:2:42"  # explicit default scope is accepted


def test_target_is_frozen_and_hashable() -> None:
    t = parse_target("gsekit:2:55")
    with pytest.raises(AttributeError):
        t.id = "56"  # type: ignore[misc]
    assert {t, parse_target("gsekit:2:55")} == {t}


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "job",
        "job:2",
        "job:2:42:1",
        "job:0:42",
        "job:2:0",
        "job:-2:42",
        "job:2:4.2",
        "job:2:+42",
        "job:2:abc",
        "job:project:5:1",  # projects are a SOPS scope
        "sops:biz_set:9991:1",
        "bkflow:biz_set:1:2",
        "nodeman:project:1:2",
        "cmdb:2:3",
        "2:42",
        "job:２:42",  # full-width digit
        "\x1b[31mjob:2:42",
    ],
)
def test_garbage_is_rejected_with_a_clear_error(text: str) -> None:
    with pytest.raises(TargetError) as info:
        parse_target(text)
    assert str(info.value)
    assert isinstance(info.value, ValueError)


def test_unknown_system_error_lists_the_forms() -> None:
    with pytest.raises(TargetError, match=r"job:BIZ:JOB_INSTANCE_ID.*gsekit:BIZ:JOB_ID"):
        parse_target("cmdb:2:3")


def test_non_text_is_a_target_error() -> None:
    with pytest.raises(TargetError):
        parse_target(42)  # type: ignore[arg-type]


# -- URLs ---------------------------------------------------------------------------------------

# Every real page form of bk-apis §10.1, with the target (and focus) it gives.
REAL_PAGES = [
    # JOB: task, step and quick-launch pages for biz and biz_set, under any site prefix
    ("https://job.example.com/biz/2/execute/task/42", "job:2:42", None),
    ("http://paas.example.com/job/biz/2/execute/task/42?from=history", "job:2:42", None),
    ("https://job.example.com/biz_set/9991/execute/task/7", "job:biz_set:9991:7", None),
    (
        "https://job.example.com/biz/2/execute/step/42?stepInstanceId=1001&executeCount=0&batch=0",
        "job:2:42",
        "1001",
    ),
    ("https://job.example.com/biz_set/9991/execute/step/8?stepInstanceId=77", "job:biz_set:9991:8", "77"),
    ("https://job.example.com/biz/3/execute/step/43", "job:3:43", None),
    ("https://job.example.com/biz/3/execute/quick-launch/44", "job:3:44", None),
    ("https://job.example.com/biz_set/5/execute/quick-launch/45", "job:biz_set:5:45", None),
    ("job.example.com/biz/2/execute/task/46", "job:2:46", None),
    # SOPS: taskflow/function/audit/appmaker pages, /o/, /t/ or no prefix
    ("http://paas.example.com/o/bk_sops/taskflow/execute/5/?instance_id=12", "sops:project:5:12", None),
    ("http://paas.example.com/t/bk_sops/taskflow/execute/5/?instance_id=15", "sops:project:5:15", None),
    ("https://sops.example.com/taskflow/execute/5/?instance_id=13&template_id=1", "sops:project:5:13", None),
    ("https://sops.example.com/taskflow/execute/5?instance_id=14", "sops:project:5:14", None),
    ("http://paas.example.com/o/bk_sops/function/execute/6/?instance_id=16", "sops:project:6:16", None),
    ("https://sops.example.com/audit/execute/7/?instance_id=17", "sops:project:7:17", None),
    ("http://paas.example.com/o/bk_sops/appmaker/31/execute/8/?instance_id=18", "sops:project:8:18", None),
    # BKFlow: the same path shape, camelCase query key, optional type=mock
    ("https://flow.example.com/taskflow/execute/1/?instanceId=300", "bkflow:1:300", None),
    ("https://flow.example.com/taskflow/execute/1/?instanceId=301&type=mock", "bkflow:1:301", None),
    # NodeMan: hash routes, no business anywhere; log pages focus the host
    ("http://paas.example.com/o/bk_nodeman/#/task-list/detail/187", "nodeman:187", None),
    (
        "https://nodeman.example.com/#/task-list/189/log/host|instance|host|12",
        "nodeman:189",
        "host|instance|host|12",
    ),
    (
        "https://nodeman.example.com/#/task-list/189/log/host%7Cinstance%7Chost%7C13",
        "nodeman:189",
        "host|instance|host|13",
    ),
    ("https://paas.example.com/o/bk_nodeman/#/task-history/detail/190", "nodeman:190", None),
    (
        "https://nodeman.example.com/#/task-history/191/log/host|instance|host|7",
        "nodeman:191",
        "host|instance|host|7",
    ),
    # GSEKit: history mode, path route plus the ?biz= its router adds
    ("https://paas.example.com/o/bk_gsekit/task-history/detail/56?biz=3", "gsekit:3:56", None),
    ("https://process.example.com/task-history/detail/57?biz=2", "gsekit:2:57", None),
]


@pytest.mark.parametrize(("url", "expected", "focus"), REAL_PAGES)
def test_real_page_urls(url: str, expected: str, focus: str | None) -> None:
    target = parse_target(url)
    assert str(target) == expected
    assert target.focus == focus
    assert parse_target(str(target)) == target  # the canonical form gives the same task back


@pytest.mark.parametrize(
    ("url", "expected", "focus"),
    [
        ("https://job.example.com/api_execute/42", "job:2:42", None),
        ("https://job.example.com/api_execute/42?stepInstanceId=9&retryCount=0&batch=0", "job:2:42", "9"),
        ("https://job.example.com/api_execute_step/42/1001", "job:2:42", "1001"),
        ("http://paas.example.com/o/bk_job/api_execute/43", "job:2:43", None),
    ],
)
def test_job_api_execute_links_take_the_business_given(url: str, expected: str, focus: str | None) -> None:
    target = parse_target(url, default_biz=2)
    assert (str(target), target.focus) == (expected, focus)
    assert str(parse_target(url, default_biz_set=9991)).startswith("job:biz_set:9991:")


def test_job_api_execute_without_a_business_says_where_to_give_one() -> None:
    with pytest.raises(MissingScope) as info:
        parse_target("https://job.example.com/api_execute/42")
    msg = str(info.value)
    for where in ("--biz", "--biz-set", "add dialog", "default_biz"):
        assert where in msg


def test_nodeman_needs_no_business_and_the_old_form_still_loads() -> None:
    assert parse_target("nodeman:187") == Target(System.NODEMAN, "", "187")
    old = parse_target("nodeman:3:187")  # saved watch lists from before
    assert (old.scope, old.id, str(old)) == ("3", "187", "nodeman:3:187")
    # A business passed along does not change what a NodeMan page is.
    assert str(parse_target("https://n.example.com/#/task-list/detail/187", default_biz=3)) == "nodeman:187"


def test_focus_is_not_part_of_the_identity() -> None:
    a = parse_target("https://job.example.com/biz/2/execute/step/42?stepInstanceId=1")
    b = parse_target("https://job.example.com/biz/2/execute/task/42")
    assert a == b and hash(a) == hash(b) and a.focus == "1" and b.focus is None


def test_gsekit_page_without_biz_takes_the_default_or_says_so() -> None:
    url = "https://paas.example.com/o/bk_gsekit/task-history/detail/56"
    with pytest.raises(MissingScope, match=r"\?biz="):
        parse_target(url)
    assert str(parse_target(url, default_biz=4)) == "gsekit:4:56"
    assert str(parse_target(url + "?biz=3", default_biz=4)) == "gsekit:3:56"  # the URL wins


NEAR_MISSES = [
    ("https://job.example.com/2/execute/task/45", "biz/BIZ/execute"),  # no biz/ before the id
    ("https://job.example.com/execute/task/42", "biz/BIZ/execute"),
    ("https://job.example.com/project/2/execute/task/42", "biz/BIZ/execute"),
    ("https://job.example.com/biz/2/execute/task/", "execute/task/ID"),
    ("https://job.example.com/api_execute/", "api_execute/ID"),
    ("https://job.example.com/api_execute_step/42", "api_execute_step/ID/STEP"),
    ("http://paas.example.com/o/bk_sops/taskflow/execute/5/", "instance_id"),
    ("http://paas.example.com/o/bk_sops/taskflow/execute/5/?instance_id=abc", "task id"),
    ("https://x.example.com/taskflow/execute/5/?instance_id=1&instanceId=2", "instanceId"),
    ("https://flow.example.com/function/execute/1/?instanceId=3", "instance_id"),
    ("https://flow.example.com/space/1/task/300", "taskflow/execute/SPACE/?instanceId"),  # no such page
    ("https://nodeman.example.com/task-list/detail/188", "#/"),  # hash route in the path
    ("https://nodeman.example.com/#/task-list/detail", "#/task-list/detail/ID"),
    ("https://nodeman.example.com/#/task-list/detail/x", "job id"),
    ("https://nodeman.example.com/#/task-list/5/log", "#/task-list/ID/log/HOST"),
    ("https://paas.example.com/o/bk_gsekit/#/2/task-history/detail/55", "task-history/detail/ID?biz=BIZ"),
    ("https://process.example.com/task-history/detail/57/x?biz=2", "task-history/detail/ID?biz=BIZ"),
]


@pytest.mark.parametrize(("url", "named"), NEAR_MISSES)
def test_near_misses_are_refused_naming_the_accepted_forms(url: str, named: str) -> None:
    with pytest.raises(TargetError) as info:
        parse_target(url, default_biz=None)
    assert named in str(info.value)


@pytest.mark.parametrize(
    "url",
    ["https://example.com/", "/just/a/path", "#/", "http://[::1", "https://job.example.com/biz/2/task/list"],
)
def test_bad_urls(url: str) -> None:
    with pytest.raises(TargetError):
        parse_target(url)


def test_unrecognised_url_error_names_the_expected_forms() -> None:
    with pytest.raises(TargetError) as info:
        parse_target("https://cmdb.example.com/#/business/2/index")
    msg = str(info.value)
    assert "cmdb.example.com" in msg
    for fragment in (
        "execute/task",
        "api_execute",
        "taskflow/execute/PROJECT/?instance_id",
        "taskflow/execute/SPACE/?instanceId",
        "#/task-list/detail",
        "task-history/detail/ID?biz=BIZ",
    ):
        assert fragment in msg
    assert "space/SPACE/task" not in msg  # no real page has that form
