"""Where the drill-down lands when a task is opened: the trouble first.

A pipeline opens on its first failing node (in flow order), else the first one waiting for a
person, else the first running one; the path to it is opened. A failure that appears later opens
its own path (once: a branch the user closes again stays closed).
"""

from __future__ import annotations

from bkwatch.model import Node, State

_LAND_ON = (State.FAILED, State.STOPPED, State.WAITING, State.RUNNING)


def _leaves(root: Node) -> list[Node]:
    return [n for n, _ in root.walk() if n is not root and not n.children and not n.synthetic]


def landing(root: Node) -> str | None:
    """The id of the node to put the cursor on, or None (nothing failing, waiting or running)."""
    leaves = _leaves(root)
    for state in _LAND_ON:
        for node in leaves:
            if node.state is state:
                return node.id
    return None


def failed_leaves(root: Node) -> list[str]:
    """Ids of the failed leaves, in flow order."""
    return [n.id for n in _leaves(root) if n.state is State.FAILED]
