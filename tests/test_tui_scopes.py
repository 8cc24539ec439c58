"""Followed scopes in the monitor: the real app, poller, discovery, client and adapters against
the simulator. Tasks a scope finds appear under its header; `d` dismisses them or stops following
the scope; space / enter fold it; the add dialog follows scopes; "since last time" covers them."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.widgets import ContentSwitcher, Input

from bkwatch.model import State, System, failing_count, failures
from bkwatch.scope_store import ScopeStore
from bkwatch.systems.adapters import fetch_task
from bkwatch.tui.dialogs.dialogs import AddDialog, ConfirmDialog
from bkwatch.tui.drilldown.detail import READING
from bkwatch.tui.watchlist.scope_port import header_key
from tests.harness import frozen_sim, notifications, settle, sim_app

SIZE = (160, 48)
SCOPE = "sops:2"


def _rig(tmp_path: Path, *, hand: int = 1, **kw):
    sim = frozen_sim()
    hand_added = [t.target for t in sim.world.tasks() if t.system == "job"][:hand]
    kw.setdefault("scopes", {SCOPE: {}})
    return sim_app(sim, tmp_path, hand_added, **kw)


def _keys(app) -> list[str]:
    return [line.key for line in app.joblist.lines]


def _under(app, scope: str) -> list[str]:
    """Task keys shown under a scope's header, in order."""
    keys = _keys(app)
    start = keys.index(header_key(scope)) + 1
    out = []
    for key in keys[start:]:
        if key.startswith("\x00"):
            break
        out.append(key)
    return out


async def test_a_task_started_in_a_followed_scope_appears_under_its_header(tmp_path: Path) -> None:
    rig = _rig(tmp_path, start_polling=True, discovery_interval=0.3)
    app, disc = rig.app, rig.discovery
    async with app.run_test(size=SIZE) as pilot:
        async with asyncio.timeout(20):
            while SCOPE not in disc.scopes or disc.scopes[SCOPE].rounds == 0:
                await pilot.pause(0.05)
            hand = next(iter(rig.poller.watches.values()))
            assert hand.via is None
            new = rig.sim.world.add_task("sops", scope="2", kind="running")
            started = asyncio.get_running_loop().time()
            while new not in _under(app, SCOPE) or rig.poller.watches[new].task is None:
                await pilot.pause(0.05)
            waited = asyncio.get_running_loop().time() - started
        assert waited <= disc.interval + 1.0  # one discovery interval, the first poll and a frame
        assert _keys(app)[0] == hand.key  # tasks added by hand stay first, ungrouped
        assert rig.poller.watches[new].via == SCOPE
        await pilot.pause(0.1)
        header = app.joblist.plain(header_key(SCOPE))
        assert "▶" in header and "running" in header
        assert app.joblist.plain(new).startswith("  SOPS")  # indented under its scope


async def test_header_counts_match_the_tasks_under_it(tmp_path: Path) -> None:
    rig = _rig(tmp_path)
    app = rig.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        held = list(rig.discovery.scopes[SCOPE].held)
        assert held and sorted(_under(app, SCOPE)) == sorted(held)
        counts: dict[State, int] = {}
        for key in held:
            state = rig.poller.watches[key].task.state  # type: ignore[union-attr]
            counts[state] = counts.get(state, 0) + 1
        assert len(counts) > 1  # a mix, so the test says something
        header = app.joblist.plain(header_key(SCOPE))
        assert f"{len(held)} tasks" in header
        words = {State.FAILED: "failed", State.RUNNING: "running", State.SUCCEEDED: "ok"}
        for state, n in counts.items():
            if state in words:
                assert f"{n} {words[state]}" in header, (state, header)
        # Failed first within the scope, as in the rest of the list, once the rows do not all fit.
        await pilot.resize_terminal(SIZE[0], 16)
        await pilot.pause()
        first = rig.poller.watches[_under(app, SCOPE)[0]].task
        assert first is not None and (first.state.is_bad or State.FAILED not in counts)


async def test_a_failing_list_call_shows_on_the_header_keeps_the_tasks_and_recovers(tmp_path: Path) -> None:
    rig = _rig(tmp_path)
    app, disc = rig.app, rig.discovery
    async with app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        before = _under(app, SCOPE)
        rig.sim.faults.set("http_502", route="get_task_list")
        await disc.discover(SCOPE)
        await pilot.pause()
        header = app.joblist.plain(header_key(SCOPE))
        assert "⚠ server:" in header
        assert _under(app, SCOPE) == before  # its tasks stay
        rig.sim.faults.clear()
        await disc.discover(SCOPE)
        await pilot.pause()
        assert "⚠" not in app.joblist.plain(header_key(SCOPE))


async def test_d_dismisses_a_task_the_scope_found_and_it_is_saved(tmp_path: Path) -> None:
    rig = _rig(tmp_path)
    app, disc = rig.app, rig.discovery
    async with app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        failed = next(
            k
            for k in _under(app, SCOPE)
            if rig.poller.watches[k].task.state is State.FAILED  # type: ignore[union-attr]
        )
        app.select(failed)
        await pilot.pause()
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog) and "Dismiss" in app.screen.question
        await pilot.press("y")
        await pilot.pause()
        assert failed not in rig.poller.watches and failed not in _keys(app)
        assert failed in disc.scopes[SCOPE].dismissed
        (entry,) = ScopeStore(rig.store).load("test")
        assert failed in entry.dismissed
        await disc.discover(SCOPE)  # still listed by the server: not found again
        await pilot.pause()
        assert failed not in _keys(app)


async def test_d_on_a_header_stops_following_with_its_tasks(tmp_path: Path) -> None:
    rig = _rig(tmp_path)
    app, disc = rig.app, rig.discovery
    async with app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        held = list(disc.scopes[SCOPE].held)
        app.joblist.move_to(header_key(SCOPE))
        await pilot.pause()
        assert app.selected is None and SCOPE in app.detail.title_bar.shown.plain
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        assert f"Its {len(held)} tasks leave" in app.screen.question
        await pilot.press("y")
        await pilot.pause()
        assert SCOPE not in disc.scopes and ScopeStore(rig.store).load("test") == []
        assert not set(held) & set(rig.poller.watches)
        assert header_key(SCOPE) not in _keys(app)
        assert all(w.via is None for w in rig.poller.watches.values())


async def test_space_and_enter_fold_a_scope(tmp_path: Path) -> None:
    rig = _rig(tmp_path)
    app = rig.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        held = _under(app, SCOPE)
        assert held
        app.select(held[0])
        await pilot.pause()
        await pilot.press("space")  # on a task the scope found: folds its scope
        await pilot.pause()
        assert _under(app, SCOPE) == [] and app.joblist.cursor_key == header_key(SCOPE)
        assert "▸" in app.joblist.plain(header_key(SCOPE))
        await pilot.press("enter")  # on the header: unfolds
        await pilot.pause()
        assert _under(app, SCOPE) == held and app.joblist.cursor_key == header_key(SCOPE)
        await pilot.press("space")
        await pilot.pause()
        # Folded, the scope's tasks still count on the header.
        assert f"{len(held)} tasks" in app.joblist.plain(header_key(SCOPE))


async def test_add_dialog_follows_a_scope_with_options(tmp_path: Path) -> None:
    rig = _rig(tmp_path)
    app, disc = rig.app, rig.discovery
    async with app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, AddDialog)
        await pilot.press(*"bkflow:1 --name 50 --since 4h")
        await pilot.pause()
        assert "OK: follow bkflow:1" in str(app.screen.error.render())
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, AddDialog)
        sw = disc.scopes["bkflow:1"]
        assert sw.options.name == "50" and sw.options.since == 4 * 3600
        saved = {e.scope: e for e in ScopeStore(rig.store).load("test")}
        assert saved["bkflow:1"].options == {"name": "50", "since": 14400.0}
        assert app.joblist.cursor_key == header_key("bkflow:1")
        await disc.discover("bkflow:1")
        await pilot.pause()
        under = _under(app, "bkflow:1")
        assert under and all(rig.poller.watches[k].via == "bkflow:1" for k in under)
        # A bad option is refused as the CLI refuses it.
        await pilot.press("a")
        await pilot.pause()
        await pilot.press(*"job:2 --since soon")
        await pilot.pause()
        assert "not a duration" in str(app.screen.error.render())


async def test_add_dialog_refuses_a_nodeman_scope_with_the_reason(tmp_path: Path) -> None:
    rig = _rig(tmp_path)
    app = rig.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        await pilot.press("a")
        await pilot.pause()
        await pilot.press(*"nodeman:biz:2")
        await pilot.pause()
        error = str(app.screen.error.render())
        assert "nodeman has no task list" in error and "ESB" in error
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, AddDialog)  # stays open with the reason
        app.screen.query_one("#add-target", Input).value = ""
        await pilot.press(*"job:2:20001 --mine")
        await pilot.pause()
        assert "only apply to scopes" in str(app.screen.error.render())
        assert "nodeman:biz:2" not in rig.discovery.scopes
        app.screen.query_one("#add-target", Input).value = ""
        await pilot.press(*"nodeman:302")  # NodeMan's short task form: a task, not a scope
        await pilot.pause()
        assert "no task list" not in str(app.screen.error.render())


async def test_since_last_time_reports_what_the_scope_found_while_closed(tmp_path: Path) -> None:
    sim = frozen_sim()
    first = sim_app(sim, tmp_path, [], scopes={SCOPE: {}})
    async with first.app.run_test(size=SIZE) as pilot:
        await settle(first, pilot)
        running = next(
            k
            for k in first.discovery.scopes[SCOPE].held
            if first.poller.watches[k].task.state is State.RUNNING  # type: ignore[union-attr]
        )
    # Saved on exit; then, while closed, a held task fails and a new one starts.
    assert ScopeStore(first.store).load_state("test")[SCOPE]["held"]
    sim.world.advance(300)
    sim.world.force(running, "FAILED")
    new = sim.world.add_task("sops", scope="2", kind="running")
    sim.world.advance(60)
    again = sim_app(sim, tmp_path, [], list_name="test", scopes={})
    app = again.app
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(again, pilot)
        await pilot.pause()
        assert new in _under(app, SCOPE)
        lines = app.log_view.entries
        assert any("Since last time in the followed scopes" in line for line in lines)
        assert any(line.startswith(f"{SCOPE}: 1 started") for line in lines), lines
        assert any("failed:" in line for line in lines)
        assert any("followed scopes" in (n.title or "") for n in notifications(app))


async def test_the_status_line_counts_the_scopes_and_the_hand_added_list_is_unchanged(
    tmp_path: Path,
) -> None:
    rig = _rig(tmp_path, hand=2)
    app = rig.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        assert "1 scope followed" in str(app.query_one("#status").render())
        hand = [k for k, w in rig.poller.watches.items() if w.via is None]
        assert _keys(app)[: len(hand)] == sorted(hand, key=lambda k: _keys(app).index(k))
        assert all(k.startswith(str(System.JOB)) for k in hand)


async def test_a_full_scope_says_cap_reached_on_its_header_in_ascii_too(tmp_path: Path) -> None:
    rig = _rig(tmp_path, scopes={SCOPE: {"cap": 2}}, ascii=True)
    app = rig.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        sw = rig.discovery.scopes[SCOPE]
        assert sw.cap_reached and len(sw.held) == 2 and sw.waiting
        header = app.joblist.plain(header_key(SCOPE))
        assert f"cap reached (2, {len(sw.waiting)} waiting)" in header
        assert header.startswith("v sops:2") and "2 tasks" in header
        assert len(_under(app, SCOPE)) == 2


async def test_a_poll_repaints_only_the_changed_row_and_its_header(tmp_path: Path) -> None:
    rig = _rig(tmp_path)
    app = rig.app
    async with app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        jl = app.joblist
        running = next(
            k
            for k in _under(app, SCOPE)
            if rig.poller.watches[k].task.state is State.RUNNING  # type: ignore[union-attr]
        )
        before_header = jl.plain(header_key(SCOPE))
        await pilot.pause()
        renders = jl.renders
        rig.sim.world.force(running, "FAILED")
        await rig.poller.poll_once(running)
        await pilot.pause()
        # The row (and its highlight) and the header's counts: nothing else is drawn again.
        assert 0 < jl.renders - renders <= 4 < len(jl.lines)
        assert jl.plain(header_key(SCOPE)) != before_header
        assert "FAILED" in jl.plain(running)


def test_the_demo_scope_starts_afresh_with_each_new_simulator(tmp_path: Path) -> None:
    """The demo's simulator is new on every run: what its scope found last time is forgotten,
    so a second demo does not restore (and poll) tasks that no longer exist."""
    from bkwatch.cli.demo import DEMO_SCOPE, follow_demo_scope
    from bkwatch.store import WatchStore

    store = WatchStore(tmp_path)
    follow_demo_scope(store)
    scopes = ScopeStore(store)
    assert [e.scope for e in scopes.load("demo")] == [DEMO_SCOPE]
    scopes.save_state("demo", {DEMO_SCOPE: {"held": {"sops:2:999": {}}}})
    assert scopes.state_path("demo").exists()
    follow_demo_scope(store)
    assert not scopes.state_path("demo").exists()
    assert [e.scope for e in scopes.load("demo")] == [DEMO_SCOPE]


async def test_a_found_task_that_finished_holds_its_summary_until_it_is_opened(tmp_path: Path) -> None:
    """Off screen, a followed scope's finished task keeps its summary, not its host results (a
    scope holds such tasks for hours); its row tells the same; opened, it is read again."""
    scope = "job:2"
    rig = _rig(tmp_path, hand=0, scopes={scope: {}})
    app, poller = rig.app, rig.poller
    async with app.run_test(size=SIZE) as pilot:
        await settle(rig, pilot)
        done = [w for w in poller.watches.values() if w.via == scope and w.task and w.task.state.is_done]
        assert len(done) >= 2
        watch = next((w for w in done if w.task and w.task.state is State.FAILED), done[0])
        slim = watch.task
        assert slim is not None and slim.summary is not None
        assert slim.steps and not any(s.hosts for s in slim.steps)  # no host result held
        full = await fetch_task(rig.client, watch.target)
        assert sum(len(s.hosts) for s in full.steps) > 0
        assert (slim.progress(), slim.counts(), failing_count(slim)) == (
            full.progress(),
            full.counts(),
            len(failures(full)),
        )
        row = app.joblist.plain(watch.key)
        views = app.detail.query_one("#views", ContentSwitcher)
        app.select(watch.key)
        await pilot.pause()
        assert views.current == "reading"
        assert app.evidence_ui.pick() == READING  # no host to pick before it is read
        assert watch.next_due <= poller.monotonic()  # read again at once, not at the focused cadence
        update = await poller.poll_once(watch.key)
        await pilot.pause()
        assert update.transitions == []  # nothing changed since the summary: nothing to report
        assert watch.task is not None and watch.task.summary is None
        assert watch.task.steps == full.steps  # every host result back
        assert views.current == "job-pane"
        assert app.joblist.plain(watch.key) == row
        other = next(w for w in done if w is not watch)
        app.select(other.key)
        await pilot.pause()
        assert watch.task.summary is not None  # left: slim again at once
