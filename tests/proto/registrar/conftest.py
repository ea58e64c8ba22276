"""Fixtures: simulated registrars, PEs and PUs (rserpool.testing.registrar)."""

from __future__ import annotations

import pytest

from rserpool.testing.registrar import Sim

PR1, PR2, PR3 = 0x11111111, 0x22222222, 0x33333333


@pytest.fixture
def sim() -> Sim:
    return Sim(seed=7)


@pytest.fixture
def lone(sim: Sim) -> Sim:
    """One registrar "PR1" (10.0.0.1) past its startup phase."""
    sim.registrar("PR1", "10.0.0.1", PR1)
    sim.run(5001)
    return sim


@pytest.fixture
def pair(sim: Sim) -> Sim:
    """Registrars "PR1" and "PR2" that found each other by multicast, past startup."""
    sim.registrar("PR1", "10.0.0.1", PR1)
    sim.registrar("PR2", "10.0.0.2", PR2)
    sim.run(5001)
    return sim


@pytest.fixture
def trio_(sim: Sim) -> Sim:
    """Registrars PR1, PR2, PR3, past startup."""
    sim.registrar("PR1", "10.0.0.1", PR1)
    sim.registrar("PR2", "10.0.0.2", PR2)
    sim.registrar("PR3", "10.0.0.3", PR3)
    sim.run(5001)
    return sim
