"""The record: what bkwatch saw, kept in SQLite in the data directory (`db.py` the file,
`recorder.py` the writer a poller tells of every update, `rows.py` what a snapshot becomes,
`snapshot.py` the task at each transition for a replay, `story.py` one task's story read back,
`render.py` it as Markdown and HTML, `flaky.py` hosts that failed in more than one task).

Import the module you need: this package imports none of them, so the monitor's start pays only
for what it reads there (`db`), and the writer comes a second later."""
