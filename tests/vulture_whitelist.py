"""Names vulture cannot see used, read by tests/test_deadcode.py (never imported).

Names a framework calls by pattern (Textual's `action_*`, `on_*`, `compose`…, the command line's
`cmd_*`) are ignored there by pattern; what is listed here is used by name from outside bkwatch's
own code, each with who uses it.
"""

# ruff: noqa: B018, F821

# Textual reads these class attributes and widget / message attributes by name.
_.CSS_PATH
_.TITLE
_.HORIZONTAL_BREAKPOINTS
_.border_title  # a widget's title, drawn by Textual in its top border
_.check_action  # App.check_action: asked whether a key is offered (and shown in the footer)
_.disabled
_.scroll_y
_.scroll_target_y
_.allow_expand
_.placeholder  # Input.placeholder: the filter box says what `/` filters (watch_ui.py)
_.show_root
_.auto_links
_.ICON_NODE
_.ICON_NODE_EXPANDED
_.control  # Message.control: what `@on(..., "#id")` selectors match
_._fatal_error  # App._fatal_error: overridden for the redacted crash report
_._on_click
_.locals  # rich's traceback Frame.locals, cleared before a crash report is shown

# httpx calls the cookie jar's extract_cookies on every response; the client swaps in its own jar.
_.extract_cookies
_._cookies

# uvicorn's Server.should_exit, set to stop the simulator's server thread.
_.should_exit

# Cleared so that a kept error does not hold its frames (poller._detached).
_.__traceback__
_.__cause__
_.__context__

# Read by the test rigs: the poller's watches with a poll started (tests/chaos.py), the
# simulator's record of each request's credentials header (tests/test_wire_auth.py).
_.in_flight
_.auth_header

# The model keeps every host's raw status beside its State (docs/states.md): the adapters set it,
# the adapter tests and the benchmarks read it; nothing shows it yet (the screen shows status_text).
_.raw_status

# Counters and flags the TUI tests and benchmarks read to see what a poll repainted or where a
# log view stands (tests/test_tui_updates.py, tests/test_tui_evidence.py).
_.renders
_.at_end

# A parameter of a Protocol method (tui/drilldown/grouped.py `GroupKind.render_header`): its implementations
# take it positionally.
_.gkey

# Textual's own "Theme" command calls App.search_themes by name (tui/app.py overrides it).
_.search_themes

# Textual reads Widget.can_focus (tui/drilldown/detail.py sets it on the placeholder).
_.can_focus

# httpcore's pool calls its own _assign_requests_to_connections, which lean_httpx.LeanPool
# overrides; lean_httpx.lean_transport gives httpx's pool instance that class (__class__).
_._assign_requests_to_connections
_.__class__

# Rich calls __rich_console__ on a renderable (tui/widgets/backdrop.py sets Textual's
# BackgroundScreen's); the monkey's regression test reads backdrop.cycles_met.
_.__rich_console__
cycles_met
