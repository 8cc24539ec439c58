"""Followed scopes in the monitor: `Discovery` on the app's poller and the watch list, behind the
screen's `Scopes` shape (`tui/watchlist/scope_port.py`), so the screen never imports the client side.

The HTTP client is still made by the poller's first fetch (`run.LazyFetch`): discovery's calls go
through the same one, and its rounds start once it exists. Discovery itself (which imports the
adapters, and with them httpx) is made when first needed, after the screen's first paint.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shlex
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from bkwatch.cli.common import UsageError
from bkwatch.cli.scope_cmd import add_scope_options, describe, options_from
from bkwatch.model import BkError, System
from bkwatch.scope_store import ScopeEntry, ScopeStore, follow_saved, save_followed
from bkwatch.scopes import looks_like_scope, parse_scope
from bkwatch.tui.watchlist.scope_port import ScopeRequest

if TYPE_CHECKING:
    from bkwatch.client import BkClient
    from bkwatch.discovery import Discovery
    from bkwatch.poller import Poller
    from bkwatch.scope_state import ScopeSince, ScopeWatch
    from bkwatch.store import WatchStore

log = logging.getLogger(__name__)

OPEN_RETRY = 5.0  # seconds between attempts to make the client when the first one failed


class ClientSource(Protocol):
    """What discovery uses of the monitor's `run.LazyFetch`: its client once made, and `open()`."""

    client: BkClient | None

    async def open(self) -> BkClient: ...


class LazyClient:
    """The client as discovery sees it: the poller's own, made by whichever asks first."""

    def __init__(self, fetch: ClientSource) -> None:
        self.fetch = fetch

    def transport_for(self, system: System) -> Any:
        assert self.fetch.client is not None, "discovery runs only once the client is open"
        return self.fetch.client.transport_for(system)

    async def call(self, system: System, api: str, **kwargs: Any) -> Any:
        client = await self.fetch.open()
        return await client.call(system, api, **kwargs)


class _OptionParser(argparse.ArgumentParser):
    """The command line's scope options; mistakes raise instead of exiting."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        raise ValueError(message)


def _parser() -> _OptionParser:
    p = _OptionParser(prog="", add_help=False, exit_on_error=False)
    add_scope_options(p)
    return p


class FollowedScopes:
    """`Scopes` for the monitor: one Discovery, saved in the watch list `list_name`."""

    def __init__(
        self,
        discovery: Discovery | Callable[[], Discovery],
        store: WatchStore,
        list_name: str,
        *,
        opener: Callable[[], Any] | None = None,
    ) -> None:
        self._discovery: Discovery | None = None
        self._make = discovery if callable(discovery) else None
        if self._make is None:
            self._take(discovery)  # type: ignore[arg-type]
        self.store = ScopeStore(store)
        self.list_name = list_name
        self._opener = opener  # awaited before the first round (makes the client)
        self._on_change: Callable[[], None] | None = None
        self._parser: _OptionParser | None = None

    def _take(self, discovery: Discovery) -> Discovery:
        discovery.on_change = self._changed
        self._discovery = discovery
        return discovery

    @property
    def discovery(self) -> Discovery:
        if self._discovery is None:
            assert self._make is not None
            return self._take(self._make())
        return self._discovery

    @property
    def scopes(self) -> Mapping[str, ScopeWatch]:
        # Before anything needed discovery, nothing is followed yet (and nothing is imported).
        return {} if self._discovery is None else self._discovery.scopes

    @property
    def poller(self) -> Poller:
        return self.discovery.poller

    def set_on_change(self, callback: Callable[[], None]) -> None:
        self._on_change = callback

    def _changed(self, _sw: ScopeWatch) -> None:
        if self._on_change is not None:
            self._on_change()

    def load(self) -> list[str]:
        return follow_saved(self.discovery, self.store, self.list_name)

    async def run(self) -> None:
        if self._opener is not None:
            while True:
                try:
                    await self._opener()
                    break
                except BkError:  # the poller shows why on every row; try again later
                    await asyncio.sleep(OPEN_RETRY)
        await self.discovery.run()

    def parse(self, text: str) -> ScopeRequest | None:
        try:
            words = shlex.split(text)
        except ValueError as exc:
            raise ValueError(f"cannot read the options: {exc}") from None
        if not words or not looks_like_scope(words[0]):
            if len(words) > 1 and any(w.startswith("--") for w in words[1:]):
                raise ValueError("--mine, --name, --since… only apply to scopes (job:BIZ, sops:BIZ, …)")
            return None
        scope = parse_scope(words[0])  # ScopeError (a ValueError): NodeMan / GSEKit say why
        try:
            if self._parser is None:
                self._parser = _parser()
            options = options_from(self._parser.parse_args(words[1:]))
        except UsageError as exc:
            raise ValueError(str(exc)) from None
        except argparse.ArgumentError as exc:
            raise ValueError(str(exc)) from None
        if options.mine and not self.discovery.user:
            raise ValueError("--mine needs the user name: set BK_USERNAME or username")
        return ScopeRequest(str(scope), options, describe(options))

    def add(self, request: ScopeRequest, label: str | None) -> str:
        try:
            sw = self.discovery.add(request.scope, request.options, label=label)
        except BkError as exc:
            raise ValueError(exc.message) from None
        self.store.add([ScopeEntry(sw.key, request.options.to_dict(), label, sw.added_at)], self.list_name)
        return sw.key

    def remove(self, key: str) -> int:
        sw = self.discovery.remove(key)
        self.store.remove([key], self.list_name)
        return 0 if sw is None else len(sw.held)

    def dismiss(self, task_key: str) -> bool:
        return self.discovery.dismiss(task_key)

    def save(self, *, dismissed: bool = False) -> None:
        save_followed(self.discovery, self.store, self.list_name, dismissed=dismissed)

    def settled(self) -> bool:
        return self.discovery.settled()

    def since_last_time(self) -> list[ScopeSince]:
        return self.discovery.since_last_time()

    def describe(self, key: str) -> str:
        sw = self.discovery.scopes.get(key)
        return "" if sw is None else describe(sw.options)


def followed_scopes(
    fetch: ClientSource, poller: Poller, store: WatchStore, list_name: str, user: str | None, **discovery: Any
) -> FollowedScopes:
    """Discovery on the monitor's poller, through the poller's (lazily made) client."""

    def make() -> Discovery:
        # lazy: imports the adapters and httpx (discovery starts after the first paint)
        from bkwatch.discovery import Discovery

        return Discovery(LazyClient(fetch), poller, user=user, **discovery)  # type: ignore[arg-type]

    return FollowedScopes(make, store, list_name, opener=fetch.open)
