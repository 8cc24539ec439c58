"""Pilot tests of acting from the monitor (`x`): the menu with greyed reasons, the confirmation
(No by default, the task id typed for revoke), exactly one request per confirmed action as the
simulator received it, its effect in the next polls, the audit lines and the ON marker."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from contextlib import aclosing
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len
from textual.pilot import Pilot
from textual.widgets import Button, OptionList, Static

from bkwatch.actions import BY_ID
from bkwatch.cli.demo import DEMO_ACTIONS_NOTE
from bkwatch.cli.run import MonitorOptions, watch_app
from bkwatch.model import State, System
from bkwatch.poller import Cadence, Poller
from bkwatch.sim import DEMO_APP_CODE, DEMO_APP_SECRET, DEMO_USERNAME
from bkwatch.store import WatchEntry, WatchStore
from bkwatch.tui.acts.act_dialogs import ActionConfirm, ActionsBanner, ActionsMenu
from tests.conftest import isolate
from tests.harness import FIXED_NOW, SimRig, frozen_sim, notifications, settle, sim_app

SIZE = (160, 48)
LIMIT = 30.0
FAILED_JOB, FAILED_STEP = "job:2:20002", "200022"
ROLLING_JOB, ROLLING_STEP = "job:3:20003", "200031"
SOPS_FAILED, SOPS_RUNNING = "sops:2:102", "sops:2:106"


def _rig(tmp_path: Path, select: str, *, allow: bool | None = True) -> SimRig:
    return sim_app(frozen_sim(), tmp_path, select=select, allow_actions=allow)


def _ops(rig: SimRig) -> list[dict[str, Any]]:
    return rig.sim.world.operations.list()


def _audit(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _toasts(rig: SimRig) -> str:
    return "\n".join(n.message for n in notifications(rig.app))


def _text(widget: Static) -> str:
    return str(widget.render())


async def _open_menu(pilot: Pilot[None]) -> ActionsMenu:
    await pilot.press("x")
    await pilot.pause()
    for _ in range(50):  # the menu opens after the task is read; a busy machine takes longer
        if isinstance(pilot.app.screen, ActionsMenu):
            break
        await pilot.pause(0.05)
    menu = pilot.app.screen
    assert isinstance(menu, ActionsMenu)
    return menu


def _options(menu: ActionsMenu) -> dict[str, tuple[bool, str]]:
    """id -> (selectable, prompt text) of every listed action."""
    ol = menu.query_one(OptionList)
    out = {}
    for i in range(ol.option_count):
        opt = ol.get_option_at_index(i)
        out[opt.id or ""] = (not opt.disabled, str(opt.prompt))
    return out


async def _choose(pilot: Pilot[None], action_id: str) -> ActionConfirm:
    menu = pilot.app.screen
    assert isinstance(menu, ActionsMenu)
    ol = menu.query_one(OptionList)
    ol.highlighted = ol.get_option_index(action_id)
    await pilot.press("enter")
    await pilot.pause()
    dialog = pilot.app.screen
    assert isinstance(dialog, ActionConfirm), dialog
    return dialog


async def _until_idle(rig: SimRig, pilot: Pilot[None]) -> None:
    async with asyncio.timeout(LIMIT):
        await pilot.pause()
        while rig.app.acts.busy:
            await pilot.pause(0.02)
        await pilot.pause()


async def test_retry_failed_hosts_from_the_host_group_sends_one_request_and_they_run_again(
    tmp_path: Path,
) -> None:
    rig = _rig(tmp_path, FAILED_JOB)
    app = rig.app
    async with aclosing(rig.client), app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(rig, pilot)
        job = app.detail.job
        assert job.step_id == FAILED_STEP
        job.hosts_view.focus()
        await pilot.press("n")  # the cursor on a failing host group
        await pilot.pause()
        step = job.current_step()
        assert step is not None
        failed = sorted(h.key for h in step.hosts.values() if h.state is not State.SUCCEEDED)
        menu = await _open_menu(pilot)
        options = _options(menu)
        first = list(options)
        assert first[:2] == ["job.retry_failed", "job.retry_all"]  # the host group's first
        assert first[-1] == "act-more"  # the actions not possible now: one line, last
        assert all(options[i][0] for i in first[:-1])  # what can be done comes first
        menu.unfold()
        await pilot.pause()
        assert list(_options(menu))[-1] == "job.start"  # the task's last, listed when asked
        assert options["job.retry_failed"][0]
        assert menu.query_one(OptionList).highlighted_option.id == "job.retry_failed"
        dialog = await _choose(pilot, "job.retry_failed")
        summary = _text(dialog.query_one("#act-summary", Static))
        assert "System: JOB" in summary and FAILED_JOB in summary
        assert f"id {FAILED_STEP}" in summary and f"Hosts:  {len(failed)}:" in summary
        assert app.focused is dialog.query_one("#act-no", Button)  # No is the default
        assert not _ops(rig)
        await pilot.press("y")
        await _until_idle(rig, pilot)
        ops = _ops(rig)
        assert len(ops) == 1, ops
        assert ops[0]["api"] == "operate_step_instance"
        assert ops[0]["params"]["operation_code"] == 2
        assert str(ops[0]["params"]["step_instance_id"]) == FAILED_STEP
        assert "done: " in _toasts(rig)
        # The next poll shows the effect, highlighted as a transition.
        await rig.poller.poll_once(FAILED_JOB)
        await pilot.pause()
        again = job.current_step()
        assert again is not None and again.execute_count == step.execute_count + 1
        assert again.state in (State.PENDING, State.RUNNING)
        assert {k for (t, k) in app.highlights if t == FAILED_JOB} & set(failed)
        rig.sim.world.advance(30)
        await rig.poller.poll_once(FAILED_JOB)
        await pilot.pause()
        done = job.current_step()
        assert done is not None and all(done.hosts[k].state is State.SUCCEEDED for k in failed)
        assert len(_ops(rig)) == 1  # never repeated on its own
        lines = _audit(tmp_path)
        assert [(a["action"], a["result"]) for a in lines] == [
            ("job.retry_failed", "sent"),
            ("job.retry_failed", "done"),
        ]
        assert "secret" not in json.dumps(lines).lower()


async def test_enter_answers_no_and_nothing_is_sent(tmp_path: Path) -> None:
    rig = _rig(tmp_path, FAILED_JOB)
    app = rig.app
    async with aclosing(rig.client), app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(rig, pilot)
        app.detail.job.hosts_view.focus()
        await _open_menu(pilot)
        await _choose(pilot, "job.retry_all")
        await pilot.press("enter")  # on No
        await _until_idle(rig, pilot)
        assert app.screen is app.screen_stack[0]
        await pilot.pause(0.1)
        assert not _ops(rig)
        assert "Nothing was sent" in _toasts(rig)
        assert [(a["action"], a["result"]) for a in _audit(tmp_path)] == [("job.retry_all", "cancelled")]


async def test_actions_off_say_how_to_turn_them_on_and_send_nothing(tmp_path: Path) -> None:
    rig = _rig(tmp_path, FAILED_JOB, allow=False)
    app = rig.app
    async with aclosing(rig.client), app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(rig, pilot)
        assert "ACTIONS ON" not in str(app.query_one("#status").render())
        app.detail.job.hosts_view.focus()
        menu = await _open_menu(pilot)
        hint = _text(menu.query_one("#act-blocked", Static))
        assert "allow_actions = true" in hint and "--allow-actions" in hint
        assert "BKWATCH_ALLOW_ACTIONS=1" in hint and "nothing can be sent" in hint
        # Nothing can be chosen (the one line of actions not possible now only lists them).
        assert not any(selectable for i, (selectable, _) in _options(menu).items() if i != "act-more")
        await pilot.press("enter", "y")
        await pilot.pause()
        assert app.screen is menu  # nothing to choose
        # The palette's entries say the same and send nothing either.
        retry = next(c for c in app.acts.commands() if "Retry the failed hosts" in c.title)
        await pilot.press("escape")
        retry.callback()
        await pilot.pause()
        assert "allow_actions = true" in _toasts(rig)
        assert app.screen is app.screen_stack[0]
        assert not _ops(rig)


async def test_greyed_actions_give_the_reason(tmp_path: Path) -> None:
    rig = _rig(tmp_path, ROLLING_JOB)
    app = rig.app
    async with aclosing(rig.client), app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(rig, pilot)
        step = app.detail.job.current_step()
        assert step is not None and step.state is State.RUNNING
        app.detail.job.steps_view.focus()  # the step first
        menu = await _open_menu(pilot)
        assert "job.retry_failed" not in _options(menu)  # folded into one line that says why
        assert "step is running" in _options(menu)["act-more"][1]
        menu.unfold()
        await pilot.pause()
        options = _options(menu)
        selectable, prompt = options["job.retry_failed"]
        assert not selectable
        assert "step is running; retry needs it failed, abnormal or stopped" in prompt
        assert "not now" in options["job.continue_rolling"][1]
        assert options["job.terminate"][0]  # a running job can be terminated
        await pilot.press("escape")
        await pilot.pause()
        # The palette offers only what can be done; one entry says why the others cannot,
        # and lists them.
        titles = [c.title for c in app.acts.commands()]
        assert not any("Retry the failed hosts" in t for t in titles)
        assert any("Terminate" in t for t in titles)
        why = next(c for c in app.acts.commands() if c.title.startswith("Actions not possible now"))
        assert "step is running" in why.help
        why.callback()
        await pilot.pause()
        assert isinstance(app.screen, ActionsMenu) and "job.retry_failed" in _options(app.screen)
        assert not _options(app.screen)["job.retry_failed"][0]
        await pilot.press("escape")
        await pilot.pause()
        assert not _ops(rig)


async def test_confirm_a_rolling_step_waiting_for_its_next_batch(tmp_path: Path) -> None:
    rig = _rig(tmp_path, ROLLING_JOB)
    app = rig.app
    async with aclosing(rig.client), app.run_test(size=SIZE, notifications=True) as pilot:
        for _ in range(30):  # until the first batch is done and the next one waits
            rig.sim.world.advance(1)
            await settle(rig, pilot)
            step = app.detail.job.current_step()
            if step is not None and step.raw_state == "15":
                break
        assert step is not None and step.id == ROLLING_STEP and step.raw_state == "15"
        app.detail.job.steps_view.focus()
        menu = await _open_menu(pilot)
        assert _options(menu)["job.continue_rolling"][0]
        dialog = await _choose(pilot, "job.continue_rolling")
        assert "starts the next rolling batch" in _text(dialog.query_one("#act-summary", Static))
        await pilot.press("tab", "enter")  # to Yes, then enter
        await _until_idle(rig, pilot)
        ops = _ops(rig)
        assert len(ops) == 1 and ops[0]["params"]["operation_code"] == 13
        await rig.poller.poll_once(ROLLING_JOB)
        await pilot.pause()
        again = app.detail.job.current_step()
        assert again is not None and again.raw_state == "2"


async def test_retry_a_failed_sops_node(tmp_path: Path) -> None:
    rig = _rig(tmp_path, SOPS_FAILED)
    app = rig.app
    async with aclosing(rig.client), app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(rig, pilot)
        await pilot.press("n")  # the cursor on the failed node
        await pilot.pause()
        await pilot.pause()
        task = rig.poller.watches[SOPS_FAILED].task
        assert task is not None
        node_id = app.detail.pipeline.cursor_id
        failed = [n.id for n in task.leaf_nodes() if n.raw_state == "FAILED"]
        assert node_id in failed
        menu = await _open_menu(pilot)
        assert next(iter(_options(menu))) == "sops.retry_node"
        dialog = await _choose(pilot, "sops.retry_node")
        summary = _text(dialog.query_one("#act-summary", Static))
        assert "System: SOPS" in summary and f"id {node_id}" in summary
        await pilot.press("y")
        await _until_idle(rig, pilot)
        ops = _ops(rig)
        assert len(ops) == 1 and ops[0]["api"] == "operate_node"
        assert ops[0]["params"]["action"] == "retry" and ops[0]["params"]["node_id"] == node_id
        await rig.poller.poll_once(SOPS_FAILED)
        await pilot.pause()
        task = rig.poller.watches[SOPS_FAILED].task
        assert task is not None
        assert next(n for n, _ in task.root.walk() if n.id == node_id).state is State.RUNNING
        assert (SOPS_FAILED, node_id) in app.highlights


async def test_revoke_needs_the_task_id_typed(tmp_path: Path) -> None:
    rig = _rig(tmp_path, SOPS_RUNNING)
    app = rig.app
    async with aclosing(rig.client), app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(rig, pilot)
        app.joblist.focus()
        await pilot.pause()
        await _open_menu(pilot)
        dialog = await _choose(pilot, "sops.revoke")
        yes = dialog.query_one("#act-yes", Button)
        assert yes.disabled
        await pilot.press("y", "enter")  # neither answers yes: "y" is typed, the id is not
        await pilot.pause()
        assert app.screen is dialog and not _ops(rig)
        assert "exactly" in _text(dialog.query_one("#act-type-error", Static))
        await pilot.press("backspace", *"106")
        await pilot.pause()
        assert not yes.disabled
        await pilot.press("enter")
        await _until_idle(rig, pilot)
        ops = _ops(rig)
        assert len(ops) == 1 and ops[0]["params"]["action"] == "revoke"
        await rig.poller.poll_once(SOPS_RUNNING)
        task = rig.poller.watches[SOPS_RUNNING].task
        assert task is not None and task.raw_state == "REVOKED"


async def test_a_second_yes_while_one_is_in_flight_sends_nothing(tmp_path: Path) -> None:
    rig = _rig(tmp_path, FAILED_JOB)
    app = rig.app
    async with aclosing(rig.client), app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(rig, pilot)
        ctx = app.acts.context()
        assert ctx is not None
        offer = next(o for o in app.acts.offers_for(ctx) if o.spec.id == "job.retry_failed")
        assert app.acts.acting is not None
        plan = app.acts.acting.plan(offer.spec, ctx.target, ctx.task, FAILED_STEP, ctx.fetched_at)
        app.acts.answered(plan, True)
        app.acts.answered(plan, True)  # pressed again before the first answer came
        assert app.acts.busy
        app.acts.open_menu()  # and x meanwhile opens nothing
        await pilot.pause()
        assert not isinstance(app.screen, ActionsMenu)
        assert "in flight" in _toasts(rig)
        await _until_idle(rig, pilot)
        assert len(_ops(rig)) == 1


async def test_a_change_meanwhile_is_caught_by_the_read_before_sending(tmp_path: Path) -> None:
    rig = _rig(tmp_path, FAILED_JOB)
    app = rig.app
    async with aclosing(rig.client), app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(rig, pilot)
        ctx = app.acts.context()
        assert ctx is not None and app.acts.acting is not None
        # The screen's data says failed; the server has moved on meanwhile (someone else retried).
        spec = BY_ID["job.retry_failed"]
        plan = app.acts.acting.plan(spec, ctx.target, ctx.task, FAILED_STEP, ctx.fetched_at)
        rig.sim.world.operations.clear()
        await rig.client.call(
            System.JOB,
            "api/v3/operate_step_instance",
            via="apigw",
            method="POST",
            params={
                "bk_scope_type": "biz",
                "bk_scope_id": "2",
                "job_instance_id": 20002,
                "step_instance_id": int(FAILED_STEP),
                "operation_code": 2,
            },
            allow_no_data=True,
        )
        app.acts.answered(plan, True)
        await _until_idle(rig, pilot)
        toasts = _toasts(rig)
        assert "step is running; retry needs it failed" in toasts and "nothing was sent" in toasts, toasts
        assert len(_ops(rig)) == 1  # only the other one's
        last = _audit(tmp_path)[-1]
        assert (last["result"], last["by"], last["why"]) == ("refused", "bkwatch", "not_allowed")


async def test_nodeman_says_where_to_act_instead(tmp_path: Path) -> None:
    rig = sim_app(frozen_sim(), tmp_path, allow_actions=True)
    rig.app.selected = rig.target(System.NODEMAN, bad=True)
    app = rig.app
    async with aclosing(rig.client), app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(rig, pilot)
        menu = await _open_menu(pilot)
        away = _text(menu.query_one("#act-away", Static))
        assert "not reachable" in away and "/o/bk_nodeman/#/task-list/detail/" in away
        assert not menu.query(OptionList)


async def test_actions_on_marker_on_the_status_line_and_every_dialog(tmp_path: Path) -> None:
    rig = _rig(tmp_path, FAILED_JOB)
    app = rig.app
    async with aclosing(rig.client), app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(rig, pilot)
        status = str(app.query_one("#status").render())
        assert status.lstrip().startswith("ACTIONS ON")
        assert app.signals.title.endswith(" — ACTIONS ON")  # the terminal's title too
        await pilot.press("question_mark")
        await pilot.pause()
        assert app.screen.query(ActionsBanner)
        await pilot.press("escape")
        menu = await _open_menu(pilot)
        assert menu.query(ActionsBanner)


async def test_the_actions_banner_says_its_whole_sentence_at_80_columns(tmp_path: Path) -> None:
    """At 80 columns the banner's long sentence would be cut ("what you confirm is"): a shorter
    one is shown whole; a wide terminal gets the long one."""
    rig = _rig(tmp_path, FAILED_JOB)
    app = rig.app
    async with aclosing(rig.client), app.run_test(size=(80, 24)) as pilot:
        await settle(rig, pilot)
        assert app.acts.acting is not None
        app.acts.acting.note = DEMO_ACTIONS_NOTE  # as the demo marks it: "ACTIONS ON: demo simulator"
        await pilot.press("question_mark")
        await pilot.pause()
        banner = app.screen.query_one(ActionsBanner)
        shown = str(banner.render())
        assert shown.startswith(app.acts.badge_text()) and shown.endswith(
            "what you confirm is sent to BlueKing"
        )
        assert cell_len(shown) <= banner.size.width == 80, shown
        await pilot.resize_terminal(140, 30)
        await pilot.pause()
        assert "task operations are enabled: what you confirm is sent to BlueKing" in str(banner.render())


def test_the_screen_loads_no_http_side() -> None:
    code = (
        "import sys, bkwatch.tui.app, bkwatch.tui.acts.acting, bkwatch.tui.acts.act_dialogs; "
        "print([m for m in sys.modules if m.split('.')[0] == 'httpx' or m.startswith("
        "('bkwatch.client', 'bkwatch.systems.adapters', 'bkwatch.sim', 'bkwatch.actions.perform'))"
        " or (m.startswith('bkwatch.systems.') and m.endswith(('.poll', '.lists', '.evidence')))])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def _wired(tmp_path: Path, base_url: str, env: dict[str, str], options: MonitorOptions) -> tuple[Any, Any]:
    """The monitor as `bkwatch` wires it: the profile from the environment, `watch_app`."""
    from bkwatch.config import data_dir, load_profile

    profile = load_profile(
        env={
            **env,
            "BK_COMPONENT_API_URL": base_url,
            "BK_APP_CODE": DEMO_APP_CODE,
            "BK_APP_SECRET": DEMO_APP_SECRET,
            "BK_USERNAME": DEMO_USERNAME,
        }
    )
    store = WatchStore(data_dir())
    store.add([WatchEntry(FAILED_JOB, None, FIXED_NOW)], "wired")
    slow = Cadence(focused=1e6, young=1e6, active=1e6, waiting=1e6, finished=1e6, unknown=1e6, jitter=0)
    return watch_app(
        profile,
        store,
        "wired",
        options,
        poller=lambda f: Poller(f, cadence=slow),
        start_polling=False,
        select=FAILED_JOB,
    )


async def test_allow_actions_reaches_the_monitor_and_it_acts_over_its_own_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate(tmp_path, monkeypatch)
    sim = frozen_sim()
    with sim.serve() as served:
        off, _ = _wired(tmp_path, served.base_url, {}, MonitorOptions())
        assert not off.acts.enabled
        flag, _ = _wired(tmp_path, served.base_url, {}, MonitorOptions(allow_actions=True))
        assert flag.acts.enabled
        app, fetch = _wired(tmp_path, served.base_url, {"BKWATCH_ALLOW_ACTIONS": "1"}, MonitorOptions())
        assert app.acts.enabled
        try:
            async with asyncio.timeout(LIMIT), app.run_test(size=SIZE, notifications=True) as pilot:
                await app.poller.poll_all()
                await pilot.pause()
                assert "ACTIONS ON" in str(app.query_one("#status").render())
                app.detail.job.hosts_view.focus()
                await _open_menu(pilot)
                await _choose(pilot, "job.retry_failed")
                await pilot.press("y")
                await pilot.pause()
                while app.acts.busy:
                    await pilot.pause(0.02)
                ops = sim.world.operations.list()
                assert len(ops) == 1 and ops[0]["params"]["operation_code"] == 2
                assert fetch.client is not None  # the polls' client made the request
        finally:
            await fetch.aclose()
    lines = _audit(tmp_path / "xdg_data_home" / "bkwatch")
    assert [(a["action"], a["result"]) for a in lines] == [
        ("job.retry_failed", "sent"),
        ("job.retry_failed", "done"),
    ]


async def test_the_demo_has_actions_on_and_says_they_go_to_its_simulator(tmp_path: Path) -> None:
    from bkwatch.cli.demo import demo_actions
    from bkwatch.cli.run import LazyFetch

    async def no_client() -> Any:
        raise AssertionError("nothing is sent in this test")

    fetch = LazyFetch(no_client)
    acting = demo_actions(fetch, tmp_path, Poller(fetch))
    assert acting.enabled
    rig = sim_app(frozen_sim(), tmp_path, select=FAILED_JOB, acting=acting)
    async with aclosing(rig.client), rig.app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        assert str(rig.app.query_one("#status").render()).lstrip().startswith("ACTIONS ON: demo simulator")


async def test_a_timeout_says_what_the_task_now_shows_and_is_not_repeated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import sim_profile

    isolate(tmp_path, monkeypatch)
    sim = frozen_sim()
    sim.faults.set("delay", route="operate_step_instance", delay=2.0, count=1)
    with sim.serve() as served:
        profile = sim_profile(served.base_url, allow_actions=True, timeout=0.5)
        store = WatchStore(tmp_path / "data")
        store.add([WatchEntry(FAILED_JOB, None, FIXED_NOW)], "slow")
        slow = Cadence(focused=1e6, young=1e6, active=1e6, waiting=1e6, finished=1e6, unknown=1e6, jitter=0)
        app, fetch = watch_app(
            profile,
            store,
            "slow",
            MonitorOptions(),
            poller=lambda f: Poller(f, cadence=slow),
            start_polling=False,
            select=FAILED_JOB,
        )
        try:
            async with asyncio.timeout(LIMIT), app.run_test(size=SIZE, notifications=True) as pilot:
                await app.poller.poll_all()
                await pilot.pause()
                app.detail.job.hosts_view.focus()
                await _open_menu(pilot)
                await _choose(pilot, "job.retry_failed")
                await pilot.press("y")
                await pilot.pause()
                while app.acts.busy:
                    await pilot.pause(0.05)
                toasts = "\n".join(n.message for n in notifications(app))
                assert "may or may not have happened" in toasts and "Read again: the step is" in toasts, (
                    toasts
                )
                assert any("action unknown" in line for line in app.log_view.entries)
                await asyncio.sleep(2.0)  # the server finishes the delayed request
                assert len(sim.world.operations.list()) == 1  # sent once, never repeated
        finally:
            await fetch.aclose()
