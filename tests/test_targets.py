"""Target parsing: canonical strings for every system, the BlueKing page URLs, and garbage."""

from __future__ import annotations

import pytest

from bkwatch.model import System
from bkwatch.targets import Target, TargetError, parse_target


@pytest.mark.parametrize(
    ("text", "system", "scope", "ident", "scope_type"),
    [
        ("job:2:42", System.JOB, "2", "42", "biz"),
        ("job:biz_set:9991:7", System.JOB, "9991", "7", "biz_set"),
        ("sops:2:10", System.SOPS, "2", "10", "biz"),
        ("sops:project:5:10", System.SOPS, "5", "10", "project"),
        ("bkflow:1:300", System.BKFLOW, "1", "300", "space"),
        ("nodeman:3:187", System.NODEMAN, "3", "187", "biz"),
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


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # JOB: scoped task page, biz set, step pages (query and path forms), quick launch, old form
        ("https://job.example.com/biz/2/execute/task/42", "job:2:42"),
        ("http://paas.example.com/job/biz/2/execute/task/42?from=history", "job:2:42"),
        ("https://job.example.com/biz_set/9991/execute/task/7", "job:biz_set:9991:7"),
        ("https://job.example.com/biz/2/execute/step/1001?taskInstanceId=42&stepInstanceId=1001", "job:2:42"),
        ("https://job.example.com/biz/3/execute/step/43", "job:3:43"),
        ("https://job.example.com/biz/3/execute/quick-launch/44", "job:3:44"),
        ("http://job.example.com/2/execute/task/45", "job:2:45"),
        ("job.example.com/biz/2/execute/task/46", "job:2:46"),
        # SOPS: project scope, with and without the PaaS prefix
        ("http://paas.example.com/o/bk_sops/taskflow/execute/5/?instance_id=12", "sops:project:5:12"),
        ("https://sops.example.com/taskflow/execute/5/?instance_id=13&template_id=1", "sops:project:5:13"),
        ("https://sops.example.com/taskflow/execute/5?instance_id=14", "sops:project:5:14"),
        # BKFlow
        ("https://flow.example.com/space/1/task/300", "bkflow:1:300"),
        ("https://flow.example.com/#/space/1/task/301/execute?x=1", "bkflow:1:301"),
        # NodeMan: hash route, biz from the query (either key), log page
        ("http://paas.example.com/o/bk_nodeman/#/task-list/detail/187?bk_biz_id=3", "nodeman:3:187"),
        ("https://nodeman.example.com/task-list/detail/188?biz=2", "nodeman:2:188"),
        ("https://nodeman.example.com/#/task-list/189/log/12?bk_biz_id=2", "nodeman:2:189"),
        ("https://paas.example.com/o/bk_nodeman/#/task-history/detail/190?bk_biz_id=2", "nodeman:2:190"),
        # GSEKit: biz in the hash route, or the ?biz= its router adds
        ("https://paas.example.com/o/bk_gsekit/#/2/task-history/detail/55", "gsekit:2:55"),
        ("https://paas.example.com/o/bk_gsekit/task-history/detail/56?biz=3", "gsekit:3:56"),
        ("https://process.example.com/task-history/detail/57?biz=2", "gsekit:2:57"),
    ],
)
def test_urls(url: str, expected: str) -> None:
    assert str(parse_target(url)) == expected


def test_nodeman_url_without_biz_uses_the_default_or_says_what_to_do() -> None:
    url = "http://paas.example.com/o/bk_nodeman/#/task-list/detail/187"
    with pytest.raises(TargetError, match="--biz"):
        parse_target(url)
    assert str(parse_target(url, default_biz=3)) == "nodeman:3:187"
    # A biz in the URL wins over the default.
    assert str(parse_target(url + "?bk_biz_id=2", default_biz=3)) == "nodeman:2:187"


def test_ambiguous_task_history_url_is_refused() -> None:
    with pytest.raises(TargetError, match="NodeMan and GSEKit"):
        parse_target("https://paas.example.com/task-history/detail/9")


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/",
        "https://job.example.com/biz/2/task/list",
        "https://job.example.com/biz/2/execute/list",
        "https://job.example.com/execute/task/42",  # no scope
        "https://job.example.com/biz/2/execute/task/",
        "https://job.example.com/biz/2/execute/task/0",
        "https://job.example.com/biz/x/execute/task/42",
        "http://paas.example.com/o/bk_sops/taskflow/execute/5/",  # no instance_id
        "http://paas.example.com/o/bk_sops/taskflow/execute/5/?instance_id=abc",
        "https://flow.example.com/space/1/template/3",
        "https://nodeman.example.com/#/task-list/detail/x?bk_biz_id=2",
        "https://nodeman.example.com/#/task-list/detail/5?bk_biz_id=zero",
        "/just/a/path",
        "#/",
        "http://[::1",
    ],
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
        "taskflow/execute",
        "space/SPACE/task",
        "task-list/detail",
        "task-history",
    ):
        assert fragment in msg
