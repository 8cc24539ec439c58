"""No import cycles among bkwatch's modules.

The graph is grimp's (the one `lint-imports` checks): it counts imports inside functions and under
`TYPE_CHECKING` too, so a cycle hidden in a function-level import is still a cycle here.
"""

from __future__ import annotations

import grimp

# None is allowed: a cycle that must stay a while is named here, as the exact set of its modules.
ALLOWED_CYCLES: frozenset[frozenset[str]] = frozenset()


def cycles(graph: grimp.ImportGraph, root: str) -> list[set[str]]:
    """The strongly connected components of more than one module under `root` (Tarjan, iterative)."""
    mods = sorted(m for m in graph.modules if m == root or m.startswith(root + "."))
    edges = {
        m: sorted(x for x in graph.find_modules_directly_imported_by(m) if x in graph.modules and x != m)
        for m in mods
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for start in mods:
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = len(index)
                stack.append(v)
                on_stack.add(v)
            out = [w for w in edges.get(v, ()) if w in edges]
            if i < len(out):
                work.append((v, i + 1))
                w = out[i]
                if w not in index:
                    work.append((w, 0))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            if low[v] == index[v]:
                comp = set()
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.add(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(comp)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
    return found


def _allowed(comp: set[str]) -> bool:
    return frozenset(comp) in ALLOWED_CYCLES


def test_finder_sees_a_cycle_through_several_modules() -> None:
    g = grimp.ImportGraph()
    for a, b in [
        ("p.a", "p.b"),
        ("p.b", "p.c"),
        ("p.c", "p.a"),
        ("p.c", "p.d"),
        ("p.d", "p.e"),
        ("p.e", "p.d"),
    ]:
        g.add_import(importer=a, imported=b)
    g.add_import(importer="p.x", imported="p.a")
    assert sorted(map(sorted, cycles(g, "p"))) == [["p.a", "p.b", "p.c"], ["p.d", "p.e"]]
    assert not _allowed({"bkwatch.tui.app", "bkwatch.tui.alerts"})


def test_no_import_cycles() -> None:
    graph = grimp.build_graph("bkwatch", cache_dir=None)
    found = [sorted(c) for c in cycles(graph, "bkwatch") if not _allowed(c)]
    detail = []
    for comp in found:
        for a in comp:
            for b in comp:
                for d in graph.get_import_details(importer=a, imported=b):
                    detail.append(f"{a}:{d['line_number']} {d['line_contents']}")
    assert not found, "import cycles:\n" + "\n".join(map(str, found)) + "\n" + "\n".join(detail)
