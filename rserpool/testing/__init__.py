"""Test helpers for code built on rserpool, like :mod:`trio.testing` is for Trio code.

The simulators rserpool's own test suite relies on, public: deterministic, in virtual time,
with the real protocol cores exchanging real bytes.

* :mod:`rserpool.testing.registrar`: :class:`~rserpool.testing.registrar.Sim`, any number of
  registrar cores plus scripted pool elements and pool users
  (:class:`~rserpool.testing.registrar.Fake`) whose every message the test writes. For
  testing what registrars do: registration rules, handle resolution, ENRP synchronisation,
  takeover, or a registrar's answer to bytes of your own.
* :mod:`rserpool.testing.client`: :class:`~rserpool.testing.client.Net`, registrar, pool
  element and pool user cores together, the PEs running the ping-pong service and the PU a
  checking ping-pong client. For testing whole scenarios: failover, re-homing after a
  registrar dies, server hunt. Its network (endpoints, associations, delivery) is
  :mod:`rserpool.testing.wiring`.
* :mod:`rserpool.testing.addresses`: ``ip("10.0.0.1")`` and ``ta("10.0.0.1", 3863)``.

Neither simulator needs Trio, sockets or a test framework: they are plain objects that any
test runner can drive (this package imports neither pytest nor hypothesis). To test a program
written with the Trio drivers (``serve_registrar``, ``open_pool_element``,
``open_pool_user``), run it on :class:`rserpool.MemoryNetwork` under
``trio.testing.MockClock`` instead (docs/api.md). docs/testing.md shows both simulators at
work.
"""

from __future__ import annotations

from rserpool.testing.addresses import ip, ta
from rserpool.testing.client import POOL, Net
from rserpool.testing.registrar import Fake, Sim

__all__ = ["POOL", "Fake", "Net", "Sim", "ip", "ta"]
