"""Fuzz of the core (issue 26): mutated messages of a synthetic drive through decode, sync, fusion,
pre-labels and events as live feeds them; no exception, and every surely invalid message counted."""

import pytest
from fuzzing import KINDS, drive_messages, fuzz

BUDGET_S = 12.0


@pytest.fixture(scope="module")
def messages(rig):
    return drive_messages(rig, seconds=2.0)


@pytest.mark.parametrize("seed", [1, 2])
def test_mutated_messages_raise_nothing_and_every_refusal_is_counted(rig, messages, seed):
    run = fuzz(rig, messages, seed=seed, budget_s=BUDGET_S / 2)
    assert run.exceptions == []
    assert set(run.mutated) == set(KINDS)  # every kind of mutation was tried
    assert sum(run.expected.values()) >= 20  # enough surely invalid messages to mean something
    assert run.missing() == {}  # each of them counted under its reason and sensor
    assert run.frames > 0  # and the pipeline kept making frames between them
