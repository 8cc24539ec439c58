"""`bkwatch report`: a recorded JOB and SOPS task told as Markdown and HTML that match what the
simulator did; a running task read live; hostile server text kept text; the HTML rendered by
headless Chromium (skipped where it is not installed)."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from bkwatch import cli
from bkwatch.config import data_dir
from bkwatch.record.render import html_page, markdown
from bkwatch.record.story import Failed, Story, Unit
from bkwatch.sim import Simulator
from tests.test_record import isolated, sim_failing_hosts, watch  # noqa: F401 - `isolated` is autouse
from tests.test_record import sim as sim  # the fixture

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
HOSTILE = '<script>alert("x")</script>\x1b[31mred\x1b[0m | **bold** `tick`'


def report(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["report", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_job_report_matches_the_simulator(
    sim: Simulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = "job:2:20002"
    watch(sim, [target], rounds=1)
    failing = set().union(*sim_failing_hosts(sim, target).values())  # before the retry
    assert cli.main(["retry", target, "--yes"]) == 0
    sim.world.advance(30)
    watch(sim, [target], rounds=3, step=200)
    capsys.readouterr()
    code, out, err = report(capsys, target, "--offline")
    assert code == 0, err
    assert "| Started by | not in JOB's answer |" in out  # its status API names no one
    counts = [int(n) for n in re.findall(r"^\*\*(\d+) × ", out, re.M)]
    assert failing and sum(counts) == len(failing)  # what failed stays in the story after a retry
    for heading, members, rest in re.findall(r"^\*\*\d+ × (.+)\*\*\n\n(.+)\n\n(.*)$", out, re.M):
        hosts = [tuple(map(int, m.replace(":", ".").split("."))) for m in members.split(", ")]
        assert hosts == sorted(hosts), members  # by cloud, then address: 0:10.2.0.6 before 0:10.2.0.11
        assert rest != "~~~text" or f"~~~text\n{heading}\n~~~" not in out, heading  # no echo
    steps = sim.world.get(target).data(sim.world.now(), True)["step_instance_list"]
    timeline = out.split("## Timeline")[1].split("## Failures")[0]
    for s in steps:
        assert s["name"] in timeline
    actions = out.split("## Actions")[1].split("## Outages")[0]
    assert "retry_failed" in actions and "**done**" in actions
    assert [op["api"] for op in sim.world.operations.list()] == ["operate_step_instance"]
    html_file = tmp_path / "job.html"
    code, out2, err = report(capsys, target, "--offline", "--html", str(html_file))
    assert code == 0 and out2 == "" and "wrote" in err
    page = html_file.read_text()
    assert page.count("<rect") == sum(1 for s in steps if s["start_time"])
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "") and "https://" not in page


def test_the_demo_keeps_its_record_apart(sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    """The demo's simulator gives ids a real server also gives: its record never mixes with the
    user's, the record commands read it with --demo (never live: its simulator is gone), and
    without --demo they say where a demo task went."""
    from bkwatch.cli.run import MonitorOptions, open_record, record_view
    from bkwatch.config import record_dir
    from bkwatch.record.db import db_path

    demo = MonitorOptions(demo=True)
    recorder, notice = open_record(demo)
    assert recorder is not None and notice is None
    recorder.close()
    view = record_view(demo)
    assert view is not None and view.path == db_path(record_dir(demo=True))
    assert record_dir(demo=True) != data_dir() and not db_path(data_dir()).exists()

    target = "job:2:20002"
    watch(sim, [target], rounds=2, where=record_dir(demo=True))
    assert not db_path(data_dir()).exists()  # nothing of the demo in the user's record
    code, out, err = report(capsys, target, "--offline")
    assert code != 0 and "add --demo" in err
    asked = sim.traffic.snapshot()["requests"]
    code, out, err = report(capsys, target, "--demo")
    assert code == 0, err
    assert out.startswith("#") and "## Timeline" in out
    assert sim.traffic.snapshot()["requests"] == asked  # read from the record only
    assert cli.main(["hosts", "--flaky", "--demo"]) == 0
    assert cli.main(["replay", target, "--demo", "--text"]) == 0
    assert "+    0.0s" in capsys.readouterr().out  # its changes, from the demo's record
    assert cli.main(["replay", target, "--text"]) != 0


def test_sops_report_cleans_the_name_and_lists_the_failed_node(
    sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    target = "sops:2:102"
    sim.world.get(target).operator = "ops-lead"  # the detail's creator
    watch(sim, [target], rounds=2, step=60)
    code, out, err = report(capsys, target, "--offline")
    assert code == 0, err
    assert "\x1b" not in out and "每日发布流水线 red: failed" in out.splitlines()[0]
    assert "| Started by | ops-lead |" in out  # kept in the record, read offline
    from tests.test_cli_evidence import _task

    task = _task(sim, target)
    failed = [n for n, _ in task.root.walk() if n.state.is_bad and not n.children]
    assert failed
    failures = out.split("## Failures")[1]
    for node in failed:
        assert node.id in failures


def test_a_running_task_is_read_live(sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    target = sim.world.add_task("job", kind="ok", hosts=4, scope=("biz", 2))
    code, out, err = report(capsys, target)
    assert code == 0, err
    assert "read live just now" in out
    code, out, err = report(capsys, target, "--offline")
    assert code == 2 and "not in the record" in err


def hostile_story() -> Story:
    now = time.time()
    story = Story("job:2:7", "job", name=HOSTILE, state="failed", start=now - 60, end=now, last_seen=now)
    story.started_by = HOSTILE
    story.units = [Unit("step", "1", HOSTILE, 0, "failed", now - 50, now - 10)]
    story.failures = [
        Failed("host", "0:10.0.0.1", "1", "0:10.0.0.1", "10.0.0.1", now, "9", HOSTILE + "\nline 2")
    ]
    story.actions = [
        {"at": now, "action": "job.retry", "subject": HOSTILE, "result": "done", "user": HOSTILE,
         "local_user": None, "by": None, "why": None, "code": None, "message": HOSTILE}
    ]  # fmt: skip
    story.outages = [{"kind": "timeout", "start": now - 30, "end": now - 20, "message": HOSTILE}]
    return story


def test_hostile_text_stays_text() -> None:
    story = hostile_story()
    md_text = markdown(story)
    outside = re.sub(r"^~~~text\n.*?^~~~$", "", md_text, flags=re.M | re.S)  # log lines: fenced, literal
    assert "\x1b" not in md_text and "<script>" not in outside and "\\<script\\>" in outside
    assert outside.count("~~~") == 0 and md_text.count("~~~") == 2
    assert "\\*\\*bold\\*\\*" in md_text
    page = html_page(story)
    assert "\x1b" not in page and "<script" not in page and "&lt;script&gt;" in page


def chromium(tmp_path: Path, page: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=1200,900", *args, page.as_uri()],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install chromium)")
def test_the_html_renders_in_chromium(
    sim: Simulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = "job:2:20002"
    watch(sim, [target], rounds=2, step=200)
    page = tmp_path / "report.html"
    assert report(capsys, target, "--offline", "--html", str(page))[0] == 0
    shot = tmp_path / "report.png"
    done = chromium(tmp_path, page, f"--screenshot={shot}")
    assert done.returncode == 0, done.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    dom = chromium(tmp_path, page, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "<svg" in dom.stdout and dom.stdout.count("<rect") == page.read_text().count("<rect")
    assert "发布-订单服务（灰度）" in dom.stdout and "Failures" in dom.stdout
    hostile = tmp_path / "hostile.html"
    hostile.write_text(html_page(hostile_story()))
    dom = chromium(tmp_path, hostile, "--dump-dom")
    assert dom.returncode == 0 and "<script" not in dom.stdout and "&lt;script&gt;" in dom.stdout
    assert data_dir().exists()


def test_replay_tells_the_changes_in_time_order(sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    target = sim.world.add_task("job", kind="fail", hosts=8, scope=("biz", 2))
    watch(sim, [target], rounds=4, step=120)
    code = cli.main(["replay", target])
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = out.splitlines()
    offsets = [float(re.search(r" \+\s*([\d.]+)s ", line)[1]) for line in lines]  # type: ignore[index]
    assert offsets == sorted(offsets) and "first seen" in lines[0]
    task_lines = [line for line in lines if "  task " in line]
    assert task_lines[-1].endswith("→ failed")  # the simulator's end state (JOB status 4)
    assert sim.world.get(target).raw_state(sim.world.now()) == "4"
    failing = set().union(*sim_failing_hosts(sim, target).values())
    failed_lines = {
        line.split("  host ")[1].split(" ")[0] for line in lines if "  host " in line and "→ failed" in line
    }
    assert failed_lines == {h.split(":", 1)[1] for h in failing}
    assert cli.main(["replay", "job:2:424242"]) == 2
