"""What the monitor is handed to act (`bkwatch.tui.acts.acting.Acting`): the engine's `Actor` on the
monitor's own HTTP client, made when the first action is sent (the poller has made it by then).

The engine's sending side (`bkwatch.actions.perform`) is imported on first use, like the client:
building the monitor imports nothing of the HTTP side.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from bkwatch.actions.catalog import unreachable

if TYPE_CHECKING:
    from bkwatch.actions import ActionSpec, Actor, Outcome, Plan
    from bkwatch.client import BkClient
    from bkwatch.config import Profile
    from bkwatch.model import Task
    from bkwatch.targets import Target


class MonitorActions:
    def __init__(
        self,
        profile: Profile,
        get_client: Callable[[], Awaitable[BkClient]],
        *,
        data_dir: Path,
        interval: float,
        paas: Callable[[], str | None] | None = None,
        note: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.profile = profile
        self._get_client = get_client
        self._paas = paas or (lambda: profile.esb_url)
        self.note = note
        self.data_dir = data_dir
        self.interval = interval  # the poll interval (the task is read again before sending anyway)
        self.clock = clock
        self._actor: Actor | None = None

    @property
    def enabled(self) -> bool:
        return self.profile.allow_actions

    def hint(self) -> str:
        from bkwatch.actions import enable_hint  # lazy: the engine brings httpx; the screen is up before it

        return enable_hint(self.profile)

    def unreachable(self, target: Target) -> str | None:
        return unreachable(target.system, target.scope, target.id, self._paas())

    def plan(
        self, spec: ActionSpec, target: Target, task: Task, subject_id: str | None, fetched_at: float
    ) -> Plan:
        from bkwatch.actions import Plan  # lazy: the engine brings httpx; the screen is up before it

        return Plan(spec, target, task, subject_id, fetched_at)

    async def _actor_now(self) -> Actor:
        if self._actor is None:
            from bkwatch.actions import Actor  # lazy: the engine brings httpx; the screen is up before it

            client = await self._get_client()
            self._actor = Actor(
                client, self.profile, data_dir=self.data_dir, interval=self.interval, clock=self.clock
            )
        return self._actor

    async def perform(self, plan: Plan) -> Outcome:
        return await (await self._actor_now()).perform(plan)

    async def decline(self, plan: Plan) -> Outcome:
        return (await self._actor_now()).decline(plan)

    async def refuse(self, plan: Plan, why: str, message: str) -> Outcome:
        """bkwatch refused it on screen (`why`: "disabled" or "not_allowed"): recorded, nothing sent."""
        from bkwatch.actions import Result  # lazy: the engine brings httpx; the screen is up before it

        return (await self._actor_now()).refuse(plan, Result(why), message)
