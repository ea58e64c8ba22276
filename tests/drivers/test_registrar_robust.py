"""The registrar driver is unkillable by any one input (issue 12, point 1).

The ~65 KB Registration of unknown skip-bit parameters goes over the memory network to a
registrar with a peer; and a core that produces an unencodable message or raises is simulated:
each time the failure is logged and counted, and every other association goes on.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import trio
import trio.testing

from rserpool.drivers.registrar import Registrar, serve_registrar
from rserpool.proto.common import Endpoint, Send
from rserpool.proto.registrar import RegistrarConfig
from rserpool.transport import TUNED, MemoryNetwork
from rserpool.wire import (
    HandleResolution,
    HandleResolutionResponse,
    PoolElement,
    Registration,
    RegistrationResponse,
    SctpTransport,
)
from rserpool.wire.tlv import UnknownParameter
from tests.drivers.helpers import POOL, AsapClient, registration, wait_until

CONFIG = RegistrarConfig(server_id=0x101, mentor_discovery_timeout=1000)


def network() -> MemoryNetwork:
    net = MemoryNetwork(seed=7, latency=0.001, sctp=TUNED)
    net.add_host("pr", ["198.51.100.1"])
    net.add_host("pr2", ["198.51.100.9"])
    net.add_host("pe", ["198.51.100.2"])
    net.add_host("pe2", ["198.51.100.4"])
    net.add_host("pu", ["198.51.100.3"])
    return net


def bloated(pe_id: int, address: str) -> Registration:
    plain = registration(pe_id, [address])
    user = plain.pool_element.user_transport
    assert isinstance(user, SctpTransport)
    junk = tuple(UnknownParameter(0x8123, bytes(1020), 1) for _ in range(63))
    element: PoolElement = replace(
        plain.pool_element, user_transport=replace(user, extensions=junk)
    )
    return replace(plain, pool_element=element)


async def start(nursery: trio.Nursery, net: MemoryNetwork, name: str, sid: int) -> Registrar:
    config = replace(CONFIG, server_id=sid)
    registrar: Registrar = await nursery.start(serve_registrar, net.hosts[name], config)
    return registrar


async def test_oversized_registration_with_a_peer(clock: trio.testing.MockClock) -> None:
    net = network()
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            pr = await start(nursery, net, "pr", 0x101)
            pr2 = await start(nursery, net, "pr2", 0x102)
            await wait_until(lambda: pr.core.peers() and pr2.core.peers())
            pe = await AsapClient.connect(net.hosts["pe"], [("198.51.100.1", 3863)])
            nursery.start_soon(pe.run)
            await pe.send(bloated(0x2001, "198.51.100.2"))
            (response,) = await pe.expect(RegistrationResponse)
            assert isinstance(response, RegistrationResponse) and not response.reject
            await wait_until(lambda: pr2.core.handlespace.find(POOL, 0x2001) is not None)
            pu = await AsapClient.connect(net.hosts["pu"], [("198.51.100.9", 3863)])
            nursery.start_soon(pu.run)
            await pu.send(HandleResolution(pool_handle=POOL))
            (answer,) = await pu.expect(HandleResolutionResponse)
            assert isinstance(answer, HandleResolutionResponse) and answer.error is None
            assert pr.statistics.send_errors == pr.statistics.internal_errors == 0
            nursery.cancel_scope.cancel()


@pytest.mark.parametrize("failure", ["unencodable", "raising"])
async def test_one_bad_action_or_input_harms_nobody_else(
    clock: trio.testing.MockClock, failure: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The core answers one PE's Registration with something the driver cannot send (an
    oversized message) or raises while handling it: logged, counted, the other PE and the PU
    are served as before."""
    net = network()
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            pr = await start(nursery, net, "pr", 0x101)
            core = pr.core
            original = core.receive
            poisoned = {"done": False}

            def receive(endpoint: Endpoint, assoc_id: int, *args: Any) -> None:
                if endpoint is Endpoint.ASAP and not poisoned["done"]:
                    poisoned["done"] = True
                    if failure == "raising":
                        raise RuntimeError("a core bug")
                    huge = HandleResolutionResponse(pool_handle=b"x" * 70_000)
                    core._state.act(Send(Endpoint.ASAP, assoc_id, huge))
                    return
                original(endpoint, assoc_id, *args)

            monkeypatch.setattr(core, "receive", receive)
            bad = await AsapClient.connect(net.hosts["pe"], [("198.51.100.1", 3863)])
            nursery.start_soon(bad.run)
            await bad.send(registration(0x2001, ["198.51.100.2"]))
            await wait_until(lambda: poisoned["done"])
            good = await AsapClient.connect(net.hosts["pe2"], [("198.51.100.1", 3863)])
            nursery.start_soon(good.run)
            await good.send(registration(0x2002, ["198.51.100.4"]))
            (response,) = await good.expect(RegistrationResponse)
            assert isinstance(response, RegistrationResponse) and not response.reject
            pu = await AsapClient.connect(net.hosts["pu"], [("198.51.100.1", 3863)])
            nursery.start_soon(pu.run)
            await pu.send(HandleResolution(pool_handle=POOL))
            (answer,) = await pu.expect(HandleResolutionResponse)
            assert isinstance(answer, HandleResolutionResponse)
            assert [p.pe_id for p in answer.pool_elements] == [0x2002]
            stats = pr.statistics
            if failure == "raising":
                assert stats.internal_errors == 1
            else:
                assert stats.send_errors == 1
            nursery.cancel_scope.cancel()
