"""What the record shows on the screen: a recorded task replayed in the drill-down's panes
(`screen.py`), a host's past failures (`hosts.py`, and the note on a failing host's line), the
monitor's keys for both (`control.py`), all through the `Record` Protocol (`port.py`)."""
