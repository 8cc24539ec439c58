"""The log view (`l`) and the failure signatures view (`w`): the real app, poller, client and
adapters against the simulator in-process; and the real `bkwatch` in a pseudo-terminal for the
bytes a hostile log writes."""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from pathlib import Path

from rich.cells import cell_len
from textual.pilot import Pilot

from benchmarks.ptyrun import PtySession
from benchmarks.tuiproc import isolated_watch
from bkwatch.evidence.signatures import Cluster
from bkwatch.model import State, System, Task
from bkwatch.sim import logtext
from bkwatch.sim.server import serve
from bkwatch.systems.adapters import fetch_evidence
from bkwatch.text import clean_text
from bkwatch.tui.app import BkWatchApp
from bkwatch.tui.why.logview import LogScreen
from bkwatch.tui.why.sigview import SignaturesScreen, cluster_text
from tests.harness import SimRig, frozen_sim, settle, sim_app

SIZE = (160, 48)
LIMIT = 60  # seconds any one test may take


def _job(sim, hosts: int, failing: int, seed_step: int = 2) -> tuple[str, str, list[str]]:
    """A finished JOB task whose script step has `failing` hosts forced to fail (status 104)."""
    target = sim.world.add_task("job", kind="ok", hosts=hosts, scope=("biz", 2))
    sim.world.advance(600)
    step = sim.world.get(target).steps[seed_step]
    keys = [f"{h.cloud}:{h.ip}" for h in step.hosts[:failing]]
    for key in keys:
        sim.world.force(target, 104, host=key, step=step.id)
    return target, str(step.id), keys


def _task(rig: SimRig, target: str) -> Task:
    task = rig.poller.watches[target].task
    assert task is not None
    return task


def _log_key(rig: SimRig, task: Task, step_id: str, host_key: str) -> str:
    step = next(s for s in task.steps if s.id == step_id)
    host = step.hosts[host_key]
    return logtext.job_log_key(
        rig.sim.config.seed, task.target, int(step_id), host.host_id or 0, step.execute_count
    )


def _screen_lines(screen: LogScreen) -> list[str]:
    view = screen.lines
    return [view.render_line(y).text for y in range(view.scrollable_content_region.height)]


async def _wait(pilot: Pilot[None], done, what: str) -> None:
    for _ in range(200):
        if done():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def _open_log(pilot: Pilot[None], app) -> LogScreen:
    await pilot.press("l")
    await _wait(pilot, lambda: isinstance(app.screen, LogScreen), "the log view")
    screen = app.screen
    await _wait(pilot, lambda: screen.evidence is not None or screen.error, "the log")
    await pilot.pause()
    return screen


async def test_l_on_a_failing_job_host_shows_its_last_error_line_search_and_escape(tmp_path: Path) -> None:
    sim = frozen_sim()
    target, step_id, keys = _job(sim, 20, 6)
    rig = sim_app(sim, tmp_path, [target], select=target)
    app = rig.app
    async with asyncio.timeout(LIMIT), app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        task = _task(rig, target)
        app.detail.job.reveal(step_id, keys[3])
        await pilot.pause()
        screen = await _open_log(pilot, app)
        assert screen.error is None and keys[3] in str(screen.query_one("#ev-title").render())
        # The simulator's own last error line for this host is on the first screen.
        key = _log_key(rig, task, step_id, keys[3])
        kind = logtext.error_kind(key, 104)
        expected = logtext.error_lines(key, kind)[-1]
        shown = _screen_lines(screen)
        assert any(expected in line for line in shown), (expected, shown[-5:])
        assert screen.lines.at_end and shown[-1].split()[0] == str(screen.buf.end_line)  # numbered
        assert "exit_code" in str(screen.query_one("#ev-fields").render())

        # / search: every match in the log, n / N move between them and keep them on screen.
        await pilot.press("slash", *"info", "enter")
        await pilot.pause()
        cleaned = [screen.buf.line(n).lower() for n in range(screen.buf.first_line, screen.buf.end_line)]
        assert len(screen.lines.matches) == sum(line.count("info") for line in cleaned) > 3
        first = screen.lines.current
        assert first is not None and screen.hit_index is not None
        seen = [first.line]
        for _ in range(3):
            await pilot.press("n")
            await pilot.pause()
            hit = screen.lines.current
            assert hit is not None and screen.buf.line(hit.line)[hit.start : hit.end].lower() == "info"
            top = screen.lines.top_line
            assert top <= hit.line < top + screen.lines.scrollable_content_region.height
            seen.append(hit.line)
        assert seen == sorted(seen) and seen[-1] > seen[0]
        await pilot.press("N")
        await pilot.pause()
        assert screen.lines.current is not None and screen.lines.current.line == seen[-2]
        assert "matches" in str(screen.query_one("#ev-note").render())
        await pilot.press("home")
        await pilot.pause()
        assert screen.lines.top_line == 0 and _screen_lines(screen)[0].split()[0] == "1"
        await pilot.press("pagedown")
        await pilot.pause()
        assert screen.lines.top_line > 10
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.screen_stack[0]


async def test_follow_appends_only_new_output_until_the_host_finishes(tmp_path: Path) -> None:
    sim = frozen_sim(seed=3)
    target = sim.world.add_task("job", kind="running", hosts=8)
    for h in sim.world.get(target).steps[0].hosts:
        h.off, h.dur = 0.0, 40.0  # long runs: the log grows between polls
    sim.world.advance(5)
    rig = sim_app(sim, tmp_path, [target], select=target)
    app = rig.app
    async with asyncio.timeout(LIMIT), app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        step = _task(rig, target).steps[0]
        host = next(k for k, h in step.hosts.items() if h.state is State.RUNNING)
        app.detail.job.reveal(step.id, host)
        await pilot.pause()
        screen = await _open_log(pilot, app)
        assert not screen.done and "F follows" in str(screen.query_one("#ev-note").render())
        before = screen.buf.nbytes
        await pilot.press("F")
        assert screen.following and "FOLLOWING" in str(screen.query_one("#ev-note").render())
        grew = []
        for _ in range(15):
            sim.world.advance(5)
            await rig.poller.poll_all()
            await pilot.pause(0.05)
            await pilot.pause(0.05)
            grew.append(screen.buf.nbytes)
            if screen.done:
                break
        assert screen.done and not screen.following
        whole = await fetch_evidence(rig.client, _task(rig, target), step=step.id, host=host)
        # Exactly the whole log, nothing twice; the end kept in view while it grew.
        assert screen.buf.text() == clean_text(whole.raw_text) and screen.buf.nbytes > before
        assert len(set(grew)) > 2 and screen.lines.at_end


async def _signatures_of(app: BkWatchApp, pilot: Pilot[None], step_id: str, key: str) -> SignaturesScreen:
    """`w` on host `key` of step `step_id`: the signatures view, once its report is in."""
    app.detail.job.reveal(step_id, key)
    app.detail.job.hosts_view.focus()
    await pilot.pause()
    await pilot.press("w")
    await _wait(pilot, lambda: isinstance(app.screen, SignaturesScreen), "the signatures view")
    screen = app.screen
    assert isinstance(screen, SignaturesScreen)
    await _wait(pilot, lambda: screen.report is not None, "the signatures")
    return screen


async def test_w_says_the_failing_hosts_it_could_not_read_instead_of_nothing_failing(tmp_path: Path) -> None:
    sim = frozen_sim(seed=11)
    target, step_id, keys = _job(sim, 30, 12)
    sim.faults.set("http_500", route="batch_get_job_instance_ip_log")  # no log can be read
    rig = sim_app(sim, tmp_path, [target], select=target)
    app = rig.app
    async with asyncio.timeout(LIMIT), app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        screen = await _signatures_of(app, pilot, step_id, keys[0])
        assert screen.report.unread == 12 and not screen.report.clusters
        summary = str(screen.query_one("#sig-summary").render())
        assert "0 groups" in summary and "12 not read (12 " in summary, summary
        shown = str(screen.query_one("#sig-groups").get_option_at_index(0).prompt)
        assert shown == "Nothing to group: 12 failing hosts, none of them read.", shown


async def test_w_groups_a_steps_failing_hosts_by_the_simulators_error_kinds(tmp_path: Path) -> None:
    sim = frozen_sim(seed=11)
    target, step_id, keys = _job(sim, 60, 40)
    rig = sim_app(sim, tmp_path, [target], select=target)
    app = rig.app
    async with asyncio.timeout(LIMIT), app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        task = _task(rig, target)
        screen = await _signatures_of(app, pilot, step_id, keys[0])
        expected: dict[str, set[str]] = defaultdict(set)
        for key in keys:
            expected[logtext.error_kind(_log_key(rig, task, step_id, key), 104)].add(key)
        report = screen.report
        assert {frozenset(c.members) for c in report.clusters} == {frozenset(g) for g in expected.values()}
        assert [c.count for c in report.clusters] == sorted((len(g) for g in expected.values()), reverse=True)
        assert report.read == 40 and report.unread == 0
        summary = str(screen.query_one("#sig-summary").render())
        assert f"{len(expected)} groups" in summary and "40 logs read" in summary and "none unread" in summary
        biggest = report.clusters[0]
        shown = str(screen.query_one("#sig-groups").get_option_at_index(0).prompt)
        assert f"{biggest.count} hosts" in shown and biggest.sample.split("\n")[0][:40] in shown
        await pilot.press("c")
        assert sorted(app.clipboard.split()) == sorted(k.split(":", 1)[1] for k in biggest.members)
        await pilot.press("C")
        assert sorted(app.clipboard.split()) == sorted(biggest.members)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.screen_stack[0]


async def test_sops_signatures_by_ex_data_node_details_and_watching_the_job_link(tmp_path: Path) -> None:
    sim = frozen_sim(seed=4)
    target = sim.world.add_task("sops", kind="widefail", nodes=12)
    sim.world.advance(30)
    rig = sim_app(sim, tmp_path, [target], select=target)
    app = rig.app
    async with asyncio.timeout(LIMIT), app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        task = _task(rig, target)
        app.joblist.focus()
        await pilot.press("w")
        await _wait(pilot, lambda: isinstance(app.screen, SignaturesScreen), "the signatures view")
        screen = app.screen
        await _wait(pilot, lambda: screen.report is not None, "the signatures")
        failed = [n.id for n in task.leaf_nodes() if n.state is State.FAILED]
        groups: dict[str, set[str]] = defaultdict(set)
        for node_id in failed:
            groups[logtext.error_kind(node_id)].add(node_id)
        assert {frozenset(c.members) for c in screen.report.clusters} == {
            frozenset(g) for g in groups.values()
        }
        first = screen.report.clusters[0]
        prompt = str(screen.query_one("#sig-groups").get_option_at_index(0).prompt)
        assert "nodes" in prompt
        names = {n.id: n.name for n in task.leaf_nodes()}
        assert names[first.members[0]] in prompt and first.members[0] not in prompt, prompt  # names, not ids
        echo = Cluster("定时时间需晚于当前时间", "定时时间需晚于当前时间", members=[first.members[0]])
        assert "e.g." not in cluster_text(echo, task.system).plain  # it would only repeat the heading
        assert "e.g." in cluster_text(first, task.system).plain or first.sample == first.signature
        summary = str(screen.query_one("#sig-summary").render())
        assert f"{len(failed)} failure{'s' if len(failed) != 1 else ''} read" in summary, summary
        await pilot.press("escape")
        await pilot.pause()

        # l on a failed JOB-plugin node: its details (ex_data, inputs, outputs) and its JOB link.
        node = next(n for n in task.leaf_nodes() if n.state is State.FAILED and n.name.startswith("作业平台"))
        app.detail.pipeline.reveal(node.id)
        await pilot.pause()
        await pilot.pause()
        screen = await _open_log(pilot, app)
        fields = str(screen.query_one("#ev-fields").render())
        assert "ex_data" in fields and "inputs" in fields and screen.evidence.link
        assert re.fullmatch(r"job:2:\d+", screen.evidence.link)
        await pilot.press("a")
        await pilot.pause()
        assert screen.evidence.link in rig.poller.watches
        assert screen.evidence.link in {e.target for e in rig.store.load("test")}


async def test_nodeman_install_log_and_gsekit_reasons_in_the_log_view(tmp_path: Path) -> None:
    sim = frozen_sim(gsekit_rows_without_ids=True)
    rig = sim_app(sim, tmp_path)
    app = rig.app
    async with asyncio.timeout(LIMIT), app.run_test(size=SIZE) as pilot:
        nodeman = rig.target(System.NODEMAN, bad=True)
        app.selected = nodeman
        await settle(rig, pilot)
        app.select(nodeman)
        await pilot.pause()
        await pilot.press("n")
        await pilot.pause()
        host = _task(rig, nodeman).hosts[app.detail.nodeman.cursor_key]
        screen = await _open_log(pilot, app)
        text = "\n".join(_screen_lines(screen)) + screen.buf.text()
        assert screen.error is None and re.search(r"== \S+ \[FAILED\]", text), text[-500:]
        assert clean_text(host.status_text) in str(screen.query_one("#ev-fields").render())
        await pilot.press("escape")
        await pilot.pause()

        gsekit = rig.target(System.GSEKIT, bad=True)
        app.select(gsekit)
        await pilot.pause()
        await pilot.press("n")
        await pilot.pause()
        jt = _task(rig, gsekit).job_tasks[app.detail.gsekit.cursor_key]
        screen = await _open_log(pilot, app)
        shown = "\n".join(_screen_lines(screen))
        assert f"failed_reason: {clean_text(jt.failed_reason)[:30]}" in shown
        assert (
            f"err_code: {jt.err_code}" in shown and f"solution: {clean_text(jt.solutions[0])[:30]}" in shown
        )


# ---- terminal bytes ----------------------------------------------------------------------------

# The simulator's hostile log lines (bkwatch/sim/logtext.py): their payloads must never be written.
PAYLOADS = (b"\x1b]52;c;cm0g", b"cm0gLXJmIH4vKg==", b"evil.invalid", b"pwned by", b"\x1b[2J")


def test_a_hostile_log_shows_literally_in_a_terminal() -> None:
    sim = frozen_sim(seed=2, log_bytes=64 * 1024)  # long enough to hold every hostile line
    target, _, _ = _job(sim, 12, 4)
    with (
        serve(sim.app, "127.0.0.1", 0) as served,
        isolated_watch(served.base_url, [target]) as iso,
        PtySession(iso.argv, env=iso.env) as term,
    ):
        assert term.wait_for(b"hosts", timeout=20), "the drill-down never showed"
        term.read_for(0.5)
        term.send("n")  # the first failing host
        term.read_for(0.3)
        opened = len(term.output)
        term.send("l")
        assert term.wait_for(b"exit_code", timeout=15), "the log view never opened"
        term.read_for(0.5)
        term.send("\x1b[H")  # home: the clipboard line is near the top
        assert term.wait_for(b"clipboard written by the script", timeout=10)
        for query in ("title changed", "screen cleared"):
            term.send("/")
            term.read_for(0.3)
            term.send(query + "\r")
            assert term.wait_for(query.encode(), timeout=10), query
            term.read_for(0.3)
        term.send("\x1b")
        term.read_for(0.5)
        term.send("q")
        deadline = 50
        while not term.exited and deadline:
            term.read_for(0.2)
            deadline -= 1
        exited = term.exited
    out = bytes(term.output)
    assert exited, "the app did not quit on q"
    log_part = out[opened:]
    for payload in PAYLOADS:
        assert payload not in out, f"a hostile log sequence reached the terminal: {payload!r}"
    assert b"\x1b]52;" not in log_part and b"\x1b]8;" not in log_part
    for visible in (b"clipboard written by the script", b"title changed", b"screen cleared", b"link"):
        assert visible in log_part


# ---- column headers ----------------------------------------------------------------------------


def _col(text: str, word: str) -> int:
    """The terminal column where `word` starts (wide CJK glyphs take two)."""
    return cell_len(text[: text.index(word)])


async def test_column_headers_name_every_column_where_it_is_drawn(tmp_path: Path) -> None:
    rig = sim_app(frozen_sim(), tmp_path)
    app = rig.app
    app.selected = rig.target(System.JOB, bad=True)
    async with asyncio.timeout(LIMIT), app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        header = str(app.query_one("#joblist-header").render())
        row = app.joblist.plain(app.selected)
        task = _task(rig, app.selected)
        for name in ("system", "name", "state", "done/all", "elapsed"):  # target: when room is left
            assert name in header
        assert _col(row, "FAILED") - 2 == _col(header, "state") and task.state is State.FAILED
        assert row.index("JOB") == header.index("system") == 0

        hosts = app.detail.job.hosts_view
        host_header = str(app.detail.job.query_one("ColumnHeader").render())
        step = app.detail.job.current_step()
        # A failing host whose script said something (an exit code other than 0 is shown).
        bad = next(line.key for line in hosts.lines if not line.header and step.hosts[line.key].exit_code)
        host_row = hosts.plain(bad)
        host = step.hosts[bad]
        for name in ("IP", "clo", "state", "result", "exit", "time", "error"):
            assert name in host_header, name
        assert host_row.index(host.ip) == host_header.index("IP")
        assert host_row.index(host.status_text[:8]) == host_header.index("result")
        assert host_row.index(f"exit {host.exit_code}") == host_header.index("exit")


async def test_a_log_over_the_memory_limit_says_older_output_was_dropped(tmp_path: Path) -> None:
    sim = frozen_sim(log_bytes=64 * 1024)
    target, step_id, keys = _job(sim, 8, 2)
    rig = sim_app(sim, tmp_path, [target], select=target)
    app = rig.app
    async with asyncio.timeout(LIMIT), app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        task = _task(rig, target)
        screen = LogScreen(
            app.evidence_ui.source, task, title="limited", step=step_id, host=keys[0], max_bytes=8 * 1024
        )
        app.push_screen(screen)
        await _wait(pilot, lambda: screen.evidence is not None, "the log")
        await pilot.pause()
        whole = screen.evidence.raw_text
        assert len(whole.encode()) > 32 * 1024 and screen.buf.truncated and screen.buf.nbytes <= 8 * 1024
        note = str(screen.query_one("#ev-note").render())
        assert f"older output dropped: {screen.buf.dropped_lines:,} lines" in note
        shown = _screen_lines(screen)
        # Line numbers stay those of the whole log; the last line is the log's last line.
        assert shown[-1].split()[0] == str(whole.rstrip("\n").count("\n") + 1)
        await pilot.press("home")
        await pilot.pause()
        assert _screen_lines(screen)[0].split()[0] == str(screen.buf.dropped_lines + 1)
