"""Every registered system answers every capability the rest of the program asks for, or says
it has none; and nothing outside the systems' folders asks which system it is."""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path

from bkwatch.model import System
from bkwatch.systems.adapters import ADAPTERS, SystemAdapter
from bkwatch.systems.registry import ALL, URL_MATCHERS, traits
from bkwatch.systems.traits import SystemTraits, View
from bkwatch.targets import identity, parse_target

REPO = Path(__file__).resolve().parent.parent
# Capabilities that are data, not calls: (field, type every system's value must have).
_DATA = {"label": str, "task_word": str, "scope_word": str, "url_forms": str, "member": str}


def test_every_system_is_registered_once_with_its_traits_and_adapter() -> None:
    assert [t.system for t in ALL] == list(System)
    assert set(ADAPTERS) == set(System)
    for system in System:
        assert traits(system).system is system
        assert ADAPTERS[system].traits is traits(system)


def test_every_capability_is_answered_or_declared_absent() -> None:
    """Every field is required (no defaults): a new system cannot leave one out unnoticed, and an
    absent capability is `None` or empty, never a stand-in that guesses."""
    for cls in (SystemTraits, SystemAdapter):
        for f in dataclasses.fields(cls):
            assert f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING, f.name
    for t in ALL:
        for name, kind in _DATA.items():
            assert isinstance(getattr(t, name), kind) and getattr(t, name), (t.system, name)
        assert isinstance(t.view, View) and t.canonical_forms and t.scope_kinds and t.transports
        assert set(t.transports) <= {"esb", "apigw"}
        assert ("apigw" in t.transports) == (t.gateway is not None)
        assert t.unit_done is not None and callable(t.unit_done)
        # Operations: either declared (with a way to choose them from a verb) or said to be elsewhere.
        assert bool(t.actions) == (t.choose is not None) != (t.act_elsewhere is not None)
        assert all(a.system is t.system for a in t.actions)
        assert t.batched <= bool(t.follow_kinds)
        for form in t.canonical_forms:
            assert form.startswith(f"{t.system}:")
    for a in ADAPTERS.values():
        for f in dataclasses.fields(SystemAdapter):
            value = getattr(a, f.name)
            assert value is None or f.name == "traits" or callable(value), (a.traits.system, f.name)
        assert inspect.iscoroutinefunction(a.fetch) and inspect.iscoroutinefunction(a.evidence)
        # A system that can be followed can be listed; one whose tasks are parked can be batch-read.
        assert (a.list_tasks is not None) == bool(a.traits.follow_kinds)
        assert (a.batch_states is not None) == a.traits.batched
        assert (a.action_wire is not None) == bool(a.traits.actions)


def test_each_systems_canonical_form_parses_back_to_itself() -> None:
    examples = {
        System.JOB: ["job:2:42", "job:biz_set:9:42"],
        System.SOPS: ["sops:2:1001", "sops:project:5:1001"],
        System.BKFLOW: ["bkflow:3:501"],
        System.NODEMAN: ["nodeman:302", "nodeman:2:302"],
        System.GSEKIT: ["gsekit:2:77"],
    }
    assert set(examples) == set(System)
    for system, texts in examples.items():
        for text in texts:
            target = parse_target(text)
            assert target.system is system and str(target) == text
    assert len(URL_MATCHERS) >= 4
    # One identity per task: a system whose ids are global (SOPS, NodeMan) names one task by
    # every form; one whose ids are per scope keeps the scope in it.
    same = {t: len({identity(parse_target(x)) for x in texts}) for t, texts in examples.items()}
    assert same == {System.JOB: 2, System.SOPS: 1, System.BKFLOW: 1, System.NODEMAN: 1, System.GSEKIT: 1}
    assert identity(parse_target("job:2:42")) != identity(parse_target("job:3:42"))
    assert identity(parse_target("gsekit:2:77")) != identity(parse_target("gsekit:3:77"))


def test_nothing_outside_the_systems_names_a_particular_system() -> None:
    """`System.JOB` and its kind appear only in bkwatch/systems/ and the simulator: the rest of the
    program asks the registry."""
    pattern = re.compile(r"System\.(JOB|SOPS|BKFLOW|NODEMAN|GSEKIT)\b")
    offenders = []
    for path in sorted((REPO / "bkwatch").rglob("*.py")):
        rel = path.relative_to(REPO / "bkwatch").parts
        if rel[0] in ("systems", "sim"):
            continue
        offenders += [
            f"{path.relative_to(REPO)}:{n}"
            for n, line in enumerate(path.read_text().splitlines(), 1)
            if pattern.search(line)
        ]
    assert offenders == []
