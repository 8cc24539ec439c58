"""Pilot tests: the real app, poller, client and adapters against a frozen simulator."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import ContentSwitcher, Input

from bkwatch.model import State, System, failures
from bkwatch.tui.dialogs.dialogs import AddDialog
from tests.harness import FIXED_NOW, SimRig, frozen_sim, notifications, settle, sim_app

SIZE = (160, 48)


def _rig(tmp_path: Path, system: System | None = System.JOB, bad: bool = True, **kw):
    sim = frozen_sim(**kw.pop("sim", {}))
    rig = sim_app(sim, tmp_path, **kw)
    if system is not None:
        rig.app.selected = rig.target(system, bad=bad)
    return rig


def _view(app) -> str:
    return app.detail.query_one("#views", ContentSwitcher).current


async def test_job_drilldown_groups_failing_hosts_first(tmp_path: Path) -> None:
    rig = _rig(tmp_path)
    app = rig.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        assert _view(app) == "job-pane"
        step = app.detail.job.current_step()
        assert step is not None
        bad = {h.key for h in step.hosts.values() if h.state.is_bad}
        assert bad, "the chosen step is the one with failing hosts"
        hv = app.detail.job.hosts_view
        headers = [line for line in hv.lines if line.header]
        assert headers[0].data[0].is_bad  # failing group first
        for header in headers:  # header counts match the hosts in that group
            members = [h for h in step.hosts.values() if hv.kind.group(h) == header.data]
            noun = "host" if len(members) == 1 else "hosts"
            assert f"({len(members)} {noun})" in hv.plain(header.key)
        rows = {line.key for line in hv.lines if not line.header}
        assert bad <= rows
        host = step.hosts[sorted(bad)[0]]
        row_text = hv.plain(host.key)
        assert host.ip in row_text and host.status_text[:10] in row_text
        # The steps pane lists every step of the job.
        assert [line.key for line in app.detail.job.steps_view.lines] == [
            s.id for s in app.detail.shown.steps
        ]


async def test_n_and_shift_n_visit_every_failing_host_across_steps(tmp_path: Path) -> None:
    rig = _rig(tmp_path)
    app = rig.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        task = rig.poller.watches[app.selected].task
        expected = {(s.id, h.key) for s in task.steps for h in s.hosts.values() if h.state.is_bad}
        seen = []
        for _ in expected:
            await pilot.press("n")
            await pilot.pause()
            seen.append((app.detail.job.step_id, app.detail.job.hosts_view.cursor_key))
        assert len(set(seen)) == len(expected) and set(seen) == expected
        assert app.focused is app.detail.job.hosts_view
        await pilot.press("n")
        assert (app.detail.job.step_id, app.detail.job.hosts_view.cursor_key) == seen[0]  # wraps
        await pilot.press("N")
        assert (app.detail.job.step_id, app.detail.job.hosts_view.cursor_key) == seen[-1]
        await pilot.press("N")
        assert (app.detail.job.step_id, app.detail.job.hosts_view.cursor_key) == seen[-2]


async def test_sops_tree_expands_path_to_nested_failure_and_n_walks_nodes(tmp_path: Path) -> None:
    sim = frozen_sim()
    nested = sim.world.add_task("sops", kind="deepfail")  # a failure two subprocesses deep
    sim.world.advance(3600)
    rig = sim_app(sim, tmp_path)
    app = rig.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        root = rig.poller.watches[nested].task.root
        assert any(n.state is State.FAILED and not n.children and d > 1 for n, d in root.walk())
        app.select(nested)
        await pilot.pause()
        assert _view(app) == "tree"
        tree = app.detail.pipeline
        task = rig.poller.watches[nested].task
        failing = [f.id for f in failures(task)]
        for node_id in failing:
            tn = tree.index[node_id]
            parent = tn.parent
            while parent is not None:  # the path to every failure is open on first view
                assert parent.is_expanded
                parent = parent.parent
            # The failure message sits under the failed node as plain text.
            assert any(c.data.message for c in tn.children)
        visited = []
        for _ in failing:
            await pilot.press("n")
            await pilot.pause()
            await pilot.pause()
            visited.append(tree.cursor_id)
        assert visited == failing
        # A refresh keeps the cursor and what is expanded.
        expanded = {i for i, tn in tree.index.items() if tn.is_expanded}
        await rig.poller.poll_once(nested)
        await pilot.pause()
        assert tree.cursor_id == visited[-1]
        assert {i for i, tn in tree.index.items() if tn.is_expanded} == expanded


async def test_nodeman_and_gsekit_panes(tmp_path: Path) -> None:
    rig = _rig(tmp_path, System.NODEMAN)
    app = rig.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        assert _view(app) == "nm-hosts"
        view = app.detail.nodeman
        task = rig.poller.watches[app.selected].task
        bad = [h.key for h in task.hosts.values() if h.state.is_bad]
        assert bad and set(view.bad_keys()) == set(bad)
        await pilot.press("n")
        assert view.cursor_key in bad
        host = task.hosts[view.cursor_key]
        assert host.ip in str(app.detail.info.render())


async def test_the_detail_title_names_who_started_the_task_when_the_system_says(tmp_path: Path) -> None:
    """NodeMan's answer names who started the task (`created_by`): the title says so, after the
    target; JOB's status answer names no one, and its title has no "by"."""
    rig = _rig(tmp_path, System.NODEMAN)
    app = rig.app
    rig.sim.world.get(app.selected).operator = "ops-lead"
    async with app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        title = app.detail.title_bar.shown.plain
        assert title.endswith(f"{app.selected}  by ops-lead"), title
        app.selected = rig.target(System.JOB, bad=True)
        await rig.poller.poll_once(app.selected)
        await pilot.pause()
        title = app.detail.title_bar.shown.plain
        assert app.selected in title and " by " not in title, title


async def test_a_gsekit_failure_s_reason_gets_room_at_80_columns(tmp_path: Path) -> None:
    """At 80 columns a failed job task's row keeps 20 cells and more for its reason (the process
    name and "retry" columns are narrow): what failed is read without opening the row."""
    from bkwatch.text import display_width, one_line

    rig = _rig(tmp_path, System.GSEKIT, sim={"gsekit_rows_without_ids": True})  # rows, as the demo's
    app = rig.app
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(rig, pilot)
        await pilot.press("enter")  # narrow: the task full-width
        await pilot.pause()
        task = rig.poller.watches[app.selected].task
        failed = [jt for jt in task.job_tasks.values() if jt.state.is_bad and jt.failed_reason]
        assert failed
        for jt in failed:
            row = app.detail.gsekit.plain(jt.id)
            reason = one_line(jt.failed_reason)
            shown = row.rstrip().split("  ")[-1].strip()
            assert display_width(shown) >= min(20, display_width(reason)), (row, reason)
            assert reason.startswith(shown.rstrip("…")), (shown, reason)


async def test_gsekit_rows_from_an_older_server(tmp_path: Path) -> None:
    """An older GSEKit returns every job task: grouped rows, n to the failures, reasons and
    solutions as plain text."""
    rig = _rig(tmp_path, System.GSEKIT, sim={"gsekit_rows_without_ids": True})
    app = rig.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        assert _view(app) == "gk-box"
        gtask = rig.poller.watches[app.selected].task
        bad = {k for k, jt in gtask.job_tasks.items() if jt.state.is_bad}
        assert bad
        await pilot.press("n")
        await pilot.pause()
        jt = gtask.job_tasks[app.detail.gsekit.cursor_key]
        assert jt.id in bad and jt.failed_reason and jt.solutions
        info = str(app.detail.info.render())
        assert jt.failed_reason[:8] in info
        assert jt.solutions[0][:8] in info and "<" not in jt.solutions[0]


async def test_gsekit_counts_from_a_current_server(tmp_path: Path) -> None:
    """A current GSEKit returns no rows without ids: the pane shows the status counts."""
    rig = _rig(tmp_path, System.GSEKIT)
    app = rig.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        assert _view(app) == "gk-box"
        gtask = rig.poller.watches[app.selected].task
        assert not gtask.job_tasks and gtask.status_counts
        shown = str(app.detail.gk_counts.render())
        assert "status counts" in shown
        assert all(f"{n}" in shown for n in gtask.status_counts.values() if n)


async def test_filter_and_failures_only(tmp_path: Path) -> None:
    rig = _rig(tmp_path)
    app = rig.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        hv = app.detail.job.hosts_view
        step = app.detail.job.current_step()
        ip = sorted(h.ip for h in step.hosts.values())[3]
        hv.focus()  # `/` filters the pane that has focus
        await pilot.pause()
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*ip)
        await pilot.pause()
        rows = [line.key for line in hv.lines if not line.header]
        assert rows and all(ip in step.hosts[k].ip for k in rows)
        await pilot.press("escape")  # clears the filter
        await pilot.pause()
        await pilot.press("f")
        await pilot.pause()
        headers = [line for line in hv.lines if line.header]
        assert headers and all(h.data[0].is_bad for h in headers)
        assert "failures only" in str(app.query_one("#status").render())
        await pilot.press("f")
        assert any(not h.data[0].is_bad for h in hv.lines if h.header)


async def test_copy_failing_ips(tmp_path: Path) -> None:
    rig = _rig(tmp_path)
    app = rig.app
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(rig, pilot)
        step = app.detail.job.current_step()
        bad = [h for h in step.hosts.values() if h.state.is_bad]
        await pilot.press("c")
        assert sorted(app.clipboard.split()) == sorted(h.ip for h in bad)
        await pilot.press("C")
        assert sorted(app.clipboard.split()) == sorted(f"{h.cloud_id}:{h.ip}" for h in bad)
        assert any(f"Copied {len(bad)}" in n.message for n in notifications(app))


async def test_add_with_url_and_garbage(tmp_path: Path) -> None:
    sim = frozen_sim()
    targets = [t.target for t in sim.world.tasks()]
    rig = sim_app(sim, tmp_path, targets[:2])
    app = rig.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, AddDialog)
        await pilot.press(*"garbage!!")
        await pilot.pause()
        err = str(app.screen.error.render())
        assert "garbage" in err or "expected" in err.lower()
        await pilot.press("enter")
        assert isinstance(app.screen, AddDialog)  # stays open with the error
        app.screen.query_one("#add-target", Input).value = ""
        url = "https://sops.example.com/taskflow/execute/5/?instance_id=104"
        await pilot.press(*url)
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, AddDialog)
        assert "sops:project:5:104" in rig.poller.watches
        assert "sops:project:5:104" in [e.target for e in rig.store.load("test")]
        await rig.poller.poll_once("sops:project:5:104")
        await pilot.pause()
        assert app.selected == "sops:project:5:104" and _view(app) == "tree"


async def test_remove_and_pause(tmp_path: Path) -> None:
    rig = _rig(tmp_path)
    app = rig.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        gone = app.selected
        await pilot.press("escape", "d")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert gone not in rig.poller.watches
        assert gone not in [e.target for e in rig.store.load("test")]
        assert gone not in [line.key for line in app.joblist.lines]
        assert app.selected is not None and app.selected != gone
        await pilot.press("p")
        assert rig.poller.paused and "PAUSED" in str(app.query_one("#status").render())
        await pilot.press("p")
        assert not rig.poller.paused and "PAUSED" not in str(app.query_one("#status").render())


async def test_transition_is_highlighted_logged_and_toasted(tmp_path: Path) -> None:
    rig = _rig(tmp_path, System.JOB, bad=False)
    app = rig.app
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(rig, pilot)
        key = app.selected
        task = rig.poller.watches[key].task
        step = app.detail.job.current_step()
        host = next(h for h in step.hosts.values() if not h.state.is_bad)
        rig.sim.world.force(key, 104, host=host.key, step=step.id)
        await rig.poller.poll_once(key)
        await pilot.pause()
        hv = app.detail.job.hosts_view
        assert host.key in hv.highlights
        assert rig.poller.watches[key].task is not task
        assert any(host.ip in line and "FAILED" in line for line in app.log_view.entries)
        # The changed row is drawn highlighted (reverse), others are not.
        strip = hv.render_line(hv.index_of(host.key) - int(hv.scroll_offset.y))
        assert any(seg.style and seg.style.reverse for seg in strip)
        # The task itself failing raises a toast and updates the terminal title.
        rig.sim.world.force(key, 4)
        await rig.poller.poll_once(key)
        await pilot.pause()
        assert any("FAILED" in n.message for n in notifications(app))
        assert "failed" in app.signals.title


async def test_cursor_follows_key_when_rows_reorder(tmp_path: Path) -> None:
    rig = _rig(tmp_path, None)
    app = rig.app
    async with app.run_test(size=(160, 16)) as pilot:  # more tasks than rows: failures go first
        await settle(rig, pilot)
        jl = app.joblist
        running = next(k for k, w in rig.poller.watches.items() if w.task and w.task.state is State.RUNNING)
        jl.move_to(running)
        await pilot.pause()
        before = jl.cursor_index
        rig.sim.world.force(running, 4 if running.startswith("job") else "FAILED")
        await rig.poller.poll_once(running)
        await pilot.pause()
        assert jl.cursor_key == running and app.selected == running
        assert jl.cursor_index < before  # it moved up with the failures


async def test_a_task_that_fails_keeps_its_row_while_every_row_is_on_the_screen(tmp_path: Path) -> None:
    rig = _rig(tmp_path, None)
    app = rig.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        jl = app.joblist
        assert len(jl.lines) <= jl.size.height
        order = [line.key for line in jl.lines]
        running = [
            k
            for k, w in rig.poller.watches.items()
            if w.task and w.task.state is State.RUNNING and k.startswith(("job", "sops"))
        ]
        last = max(running, key=order.index)  # the lowest running row: the most rows to pass
        rig.sim.world.force(last, 4 if last.startswith("job") else "FAILED")
        await rig.poller.poll_once(last)
        await pilot.pause()
        assert rig.poller.watches[last].task.state is State.FAILED  # type: ignore[union-attr]
        assert [line.key for line in jl.lines] == order  # no row moved
        await pilot.resize_terminal(160, 16)  # now they do not all fit: failures go first
        await pilot.pause()
        keys = [line.key for line in jl.lines]
        assert keys.index(last) < order.index(last)
        tasks = [rig.poller.watches[k].task for k in keys]
        bad = [i for i, t in enumerate(tasks) if t is not None and t.state in (State.FAILED, State.STOPPED)]
        assert bad == list(range(len(bad)))


async def test_untrusted_names_stay_literal_and_no_escape_reaches_screen(tmp_path: Path) -> None:
    rig = _rig(tmp_path, None)
    app = rig.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        jl = app.joblist
        # The simulator names this task with an SGR escape sequence around "red".
        escaped = next(t.target for t in rig.sim.world.tasks() if "\x1b" in t.name)
        text = jl.plain(escaped)
        assert "red" in text and "\x1b" not in text
        # A JOB host tag that looks like markup is shown with its brackets.
        bad_job = rig.target(System.JOB, bad=True)
        app.select(bad_job)
        await pilot.pause()
        hosts = [(s.id, h) for s in rig.poller.watches[bad_job].task.steps for h in s.hosts.values()]
        step_id, tagged = next((sid, h) for sid, h in hosts if "[" in h.tag)
        app.detail.job.reveal(step_id, tagged.key)
        await pilot.pause()
        hv = app.detail.job.hosts_view
        header = next(line for line in hv.lines if line.header and line.data == hv.group_of(tagged.key))
        assert tagged.tag in hv.plain(header.key)  # "[bold]fail[/]" literally, not bold "fail"
        row = hv.plain(tagged.key)
        assert "\x1b" not in row and "\x07" not in row
        svg = app.export_screenshot()
        assert "\x1b" not in svg and "\x07" not in svg
        assert "pwned" not in app.signals.title


async def test_since_last_time_summary(tmp_path: Path) -> None:
    sim = frozen_sim()
    first = sim_app(sim, tmp_path)
    key = first.target(System.JOB, bad=True)
    first.store.save_last_seen("test", {key: {"state": "running", "name": "x", "at": FIXED_NOW - 60}})
    app = first.app
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(first, pilot)
        assert any("Since last time" in line and "running -> failed" in line for line in app.log_view.entries)
        assert any("Since last time" in (n.title or "") for n in notifications(app))
    seen = first.store.load_last_seen("test")
    assert seen[key]["state"] == "failed"


async def test_poll_error_shows_badge_and_keeps_last_good_data(tmp_path: Path) -> None:
    rig = _rig(tmp_path)
    app = rig.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        key = app.selected
        rows_before = [line.key for line in app.detail.job.hosts_view.lines]
        rig.sim.faults.set("html")  # an HTML error page instead of JSON
        update = await rig.poller.poll_once(key)
        await pilot.pause()
        assert update.error is not None
        kind = str(update.error.kind)
        assert kind in app.joblist.plain(key)  # error badge on the row
        assert "FAILED" in app.joblist.plain(key)  # last good state still shown
        assert kind in app.detail.title_bar.shown.plain
        assert [line.key for line in app.detail.job.hosts_view.lines] == rows_before
        rig.sim.faults.clear()
        await rig.poller.poll_once(key)
        await pilot.pause()
        assert kind not in app.joblist.plain(key)


async def test_command_palette_runs_actions(tmp_path: Path) -> None:
    rig = _rig(tmp_path)
    app = rig.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Pause / resume")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert rig.poller.paused


async def test_desktop_notification_and_bell_on_failure(tmp_path: Path) -> None:
    rig = _rig(tmp_path, System.JOB, bad=False, desktop_notify=True, bell=True)
    app = rig.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        key = app.selected
        rig.sim.world.force(key, 4)
        await rig.poller.poll_once(key)
        await pilot.pause()
        assert any("failed" in sent for sent in app.signals.sent)
        assert all("\x1b" not in sent and "\x07" not in sent for sent in app.signals.sent)


async def test_bkflow_tree_over_the_gateway(tmp_path: Path) -> None:
    rig = _rig(tmp_path, System.BKFLOW)
    app = rig.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        assert _view(app) == "tree"
        task = rig.poller.watches[app.selected].task
        failing = [f.id for f in failures(task)]
        assert failing
        await pilot.press("n")
        await pilot.pause()
        await pilot.pause()
        assert app.detail.pipeline.cursor_id == failing[0]
        # Failures only: the tree keeps just the failing nodes and their ancestors.
        await pilot.press("f")
        await pilot.pause()
        shown = set(app.detail.pipeline.index)
        assert set(failing) <= shown
        ok_leaves = {n.id for n, _ in task.root.walk() if not n.children and n.state is State.SUCCEEDED}
        assert not (ok_leaves & shown)


async def test_task_alerts_close_together_share_one_toast(tmp_path: Path) -> None:
    rig = _rig(tmp_path, System.JOB, bad=False)
    app = rig.app
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(rig, pilot)
        running = [k for k, w in rig.poller.watches.items() if w.task and w.task.state is State.RUNNING][:3]
        assert len(running) == 3
        before = len(notifications(app))
        for key in running:
            rig.sim.world.force(key, 4 if key.startswith("job") else "FAILED")
            await rig.poller.poll_once(key)
            await pilot.pause()
        # The first alert goes up at once; the next ones wait for the toast interval.
        assert len(notifications(app)) == before + 1
        assert len(app.alerts.toasts) == 2 and app.alerts.throttle.timer is not None
        app.alerts.throttle.stop()
        app.alerts.flush()  # what the timer does when the interval is up
        await pilot.pause()
        assert len(notifications(app)) == before + 2
        last = list(notifications(app))[-1]
        assert last.title == "2 tasks changed" and last.message.count("FAILED") == 2


async def test_moving_between_panes_keeps_no_dead_footer_keys(tmp_path: Path) -> None:
    """Each focus change redraws the key bar; the keys it drew before must be freed (a monitor
    kept open for days moves focus thousands of times)."""
    import gc

    from textual.widgets._footer import FooterKey

    rig = _rig(tmp_path)
    app = rig.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        for _ in range(12):
            await pilot.press("tab")
            await pilot.pause()
        gc.collect()
        alive = [o for o in gc.get_objects() if isinstance(o, FooterKey)]
        shown = len(app.query(FooterKey))
        assert shown > 0 and len(alive) <= 2 * shown, (len(alive), shown)


async def _add(rig, pilot, url: str) -> None:
    await pilot.press("a")
    await pilot.pause()
    assert isinstance(rig.app.screen, AddDialog)
    rig.app.screen.query_one("#add-target", Input).value = url
    await pilot.press("enter")
    await pilot.pause()
    await settle(rig, pilot)


async def test_a_pasted_step_or_host_url_opens_the_task_there(tmp_path: Path) -> None:
    sim = frozen_sim()
    steps = [str(s.id) for s in sim.world.get("job:2:20002").steps]
    host = sim.world.get("nodeman:2:302").hosts[-1]
    plain = sim_app(sim, tmp_path / "plain", [])
    async with plain.app.run_test(size=SIZE) as pilot:
        await _add(plain, pilot, "https://job.example.com/biz/2/execute/task/20002")
        chosen = plain.app.detail.job.step_id  # where the pane opens by itself
        await _add(plain, pilot, "https://nm.example.com/#/task-list/302")
        assert plain.app.detail.nodeman.cursor_key != f"{host.cloud}:{host.ip}"
    focus = next(s for s in steps if s != chosen)
    rig = sim_app(sim, tmp_path / "focus", [])
    app = rig.app
    async with app.run_test(size=SIZE) as pilot:
        await _add(rig, pilot, f"https://job.example.com/biz/2/execute/step/20002?stepInstanceId={focus}")
        assert app.selected == "job:2:20002" and app.detail.job.step_id == focus
        # An api_execute link: refused until the dialog is given a business, then opened at its step.
        await _add(rig, pilot, f"https://job.example.com/api_execute_step/20002/{focus}")
        assert isinstance(app.screen, AddDialog) and "business" in str(app.screen.error.render())
        await pilot.press("escape")
        await _add(
            rig, pilot, f"https://nm.example.com/#/task-list/302/log/host%7Cinstance%7Chost%7C{host.host_id}"
        )
        assert app.selected == "nodeman:302" and _view(app) == "nm-hosts"
        assert app.detail.nodeman.cursor_key == f"{host.cloud}:{host.ip}"


async def test_a_step_url_added_from_the_command_line_opens_there_in_the_monitor(tmp_path: Path) -> None:
    from bkwatch.store import WatchStore
    from bkwatch.targets import parse_target

    sim = frozen_sim()
    steps = [str(s.id) for s in sim.world.get("job:2:20002").steps]
    plain = sim_app(sim, tmp_path / "plain", ["job:2:20002"], select="job:2:20002")
    async with plain.app.run_test(size=SIZE) as pilot:
        await settle(plain, pilot)
        chosen = plain.app.detail.job.step_id
    focus = next(s for s in steps if s != chosen)
    target = parse_target(f"https://job.example.com/biz/2/execute/step/20002?stepInstanceId={focus}")
    store = WatchStore(tmp_path / "saved")
    from bkwatch.store import WatchEntry

    store.add([WatchEntry(str(target), None, 1.0, target.focus)], "test")
    assert store.load("test")[0].focus == focus
    assert "focus" not in WatchEntry("job:2:1").to_dict()  # lists without hints are unchanged
    rig = sim_app(sim, tmp_path / "saved", None, select="job:2:20002")
    async with rig.app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        assert rig.app.detail.job.step_id == focus


@contextlib.asynccontextmanager
async def _on_the_failed_node(tmp_path: Path) -> AsyncIterator[tuple[SimRig, Pilot[None]]]:
    """A failed SOPS task open, the tree's cursor on its failed node, which the info line
    describes."""
    rig = _rig(tmp_path, System.SOPS)
    async with rig.app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        rig.app.detail.pipeline.focus()
        await pilot.press("n")  # the failed node
        await pilot.pause()
        assert "FAILED" in rig.app.detail.info.shown.plain
        yield rig, pilot


async def test_the_info_line_follows_a_poll_that_changes_the_row_under_the_cursor(tmp_path: Path) -> None:
    """The info line describes the host (or node) under the cursor: when a poll changes it, the
    line says so, not the state the cursor found it in."""
    rig = _rig(tmp_path)
    app = rig.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        await pilot.press("n")  # the first failing host
        await pilot.pause()
        view = app.detail.job.hosts_view
        key, step = view.cursor_key, app.detail.job.step_id
        assert key is not None and step is not None
        assert "exit code" in app.detail.info.shown.plain or "error" in app.detail.info.shown.plain
        rig.sim.world.force(app.selected, 9, host=key, step=step)  # the host succeeds on a retry
        await rig.poller.poll_once(app.selected)
        await pilot.pause()
        assert view.cursor_key == key  # still on it (the cursor follows its key)
        task = rig.poller.watches[app.selected].task
        host = next(s.hosts[key] for s in task.steps if s.id == step)
        assert not host.state.is_bad
        assert f"— {host.status_text}" in app.detail.info.shown.plain

    async with _on_the_failed_node(tmp_path / "tree") as (rig, pilot):
        app, tree = rig.app, rig.app.detail.pipeline
        node_id = tree.cursor_id
        assert node_id is not None
        rig.sim.world.force(app.selected, "FINISHED", node=node_id)
        await rig.poller.poll_once(app.selected)
        await pilot.pause()
        assert tree.cursor_id == node_id
        assert "— FINISHED" in app.detail.info.shown.plain


async def test_the_info_line_never_describes_a_unit_of_the_task_left(tmp_path: Path) -> None:
    """Moving through the list opens each task in turn: a pipeline's tree, shown for a moment,
    says its cursor moved after the next task (a GSEKit one, no tree) is already shown. The info
    line describes the task shown, never a node of the one left."""
    async with _on_the_failed_node(tmp_path) as (rig, pilot):
        app = rig.app
        app.detail.pipeline.action_cursor_up()  # its highlight is on the way ...
        other = rig.target(System.GSEKIT, bad=True)
        app.select(other)  # ... when the next task is opened
        await pilot.pause()
        assert app.detail.main_view() is app.detail.gsekit
        names = {n.name for n, _ in rig.poller.watches[rig.target(System.SOPS, bad=True)].task.root.walk()}
        shown = app.detail.info.shown.plain
        assert not any(f"{name} (" in shown for name in names if name), shown


async def test_a_job_opened_after_another_opens_on_its_own_step_not_the_last_ones(tmp_path: Path) -> None:
    """The steps pane's cursor was on the second step of the task shown before. Opening a task
    whose rolling first step waits for the user must show that step, and go on following the
    interesting step: the cursor's old place is not the user's choice."""
    sim = frozen_sim()
    rolling, other = "job:3:20003", "job:2:20001"
    rig = sim_app(sim, tmp_path, [other, rolling], select=other)
    app = rig.app
    async with app.run_test(size=(80, 24)) as pilot:
        await rig.poller.poll_once(other)
        await pilot.pause()
        pane = app.detail.job
        assert pane.steps_view.cursor_index > 0  # the finished job shows its last step
        for seconds in (0, 2, 2, 1):  # the rolling step's first batch is done: it waits
            sim.world.advance(seconds)
            await rig.poller.poll_once(rolling)
            await pilot.pause()
        app.select(rolling)
        await pilot.pause()
        first = pane.shown.steps[0] if pane.shown is not None else None
        assert first is not None and first.state is State.WAITING
        assert (pane.step_id, pane.user_chose_step) == (first.id, False)
        assert pane.hosts_view.scope == f"{rolling}|{first.id}"


async def test_a_running_jobs_time_is_counted_from_its_start_in_list_title_and_steps(tmp_path: Path) -> None:
    """JOB gives a job's and a step's `total_time` only once they end: while they run, each view
    counts the same time, from their start to the task's last answer. A task not started has
    no time (SOPS says 0 s for it)."""
    from bkwatch.tui.widgets.fmt import duration

    sim = frozen_sim()
    target, waiting = "job:biz_set:9991:20005", "sops:2:107"  # the pipeline not started yet
    rig = sim_app(sim, tmp_path, [target, waiting], select=target, clock=sim.world.now)
    app = rig.app
    async with app.run_test(size=SIZE) as pilot:
        sim.world.advance(25)
        await rig.poller.poll_once(target)
        await pilot.pause()
        watch = rig.poller.watches[target]
        task = watch.task
        assert task is not None and task.state is State.RUNNING and task.elapsed is None
        step = next(s for s in task.steps if s.state is State.RUNNING)
        assert step.elapsed is None and task.start is not None and step.start is not None
        assert watch.last_ok is not None
        job_time, step_time = duration(watch.last_ok - task.start), duration(watch.last_ok - step.start)
        assert job_time == "30s" and step_time == "10s"  # coarse, as a running time is drawn
        assert f" {job_time} " in app.joblist.plain(target)
        assert f"  {job_time}  " in app.detail.title_bar.shown.plain
        assert f" {step_time} " in app.detail.job.steps_view.plain(step.id)
        await rig.poller.poll_once(waiting)
        await pilot.pause()
        pending = rig.poller.watches[waiting].task
        assert pending is not None and pending.start is None and pending.elapsed == 0  # SOPS says 0 s
        assert app.joblist.lines[app.joblist.index_of(waiting)].sig[4] == ""  # not "<10s"
