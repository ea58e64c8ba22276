"""The three roles on the userland SCTP stack over real UDP sockets on loopback, real time.

Each registrar and pool element has an address of its own (127.0.5.x), all on one UDP port,
as ``--transport udp`` arranges it (:mod:`rserpool.cli.transport`): ASAP tells a pool user a
PE's IP addresses and SCTP port, never its UDP port. A crashed PE is a host whose sockets
close without a word, as after ``kill -9``."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager

import pytest
import trio

from rserpool.apps.pingpong import run_pingpong
from rserpool.apps.service_handlers import service_handler
from rserpool.drivers.pool_element import PoolElementNode, open_pool_element
from rserpool.drivers.pool_user import open_pool_user
from rserpool.drivers.registrar import Registrar, serve_registrar
from rserpool.proto.common import TransportAddress
from rserpool.proto.registrar import RegistrarConfig
from rserpool.scope import AddressScope
from rserpool.transport import TUNED
from rserpool.transport.userland import UserlandHost
from tests.drivers.helpers import wait_until

NET = "127.0.5."
REGISTRARS = [NET + "1", NET + "2"]


def free_port() -> int:
    """A UDP port free on every address the test uses."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind((REGISTRARS[0], 0))
            port = int(probe.getsockname()[1])
        try:
            for n in range(2, 40):
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:
                    other.bind((NET + str(n), port))
        except OSError:
            continue
        return port
    raise RuntimeError("no UDP port free on 127.0.5.1-39")


class Machines:
    """One UserlandHost per address, all on the same UDP port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.hosts: dict[str, UserlandHost] = {}

    def host(self, address: str) -> UserlandHost:
        made = UserlandHost([address], self.port, peer_udp_port=self.port, params=TUNED)
        self.hosts[address] = made
        return made

    def close(self) -> None:
        for host in self.hosts.values():
            host.close()


@pytest.fixture
def machines() -> Iterator[Machines]:
    made = Machines()
    yield made
    made.close()


async def registrar(
    nursery: trio.Nursery, machines: Machines, address: str, peers: tuple[str, ...] = ()
) -> Registrar:
    config = RegistrarConfig(
        server_id=0x100 + int(address.rsplit(".", 1)[1]),
        mentor_discovery_timeout=500,
        min_address_scope=AddressScope.LOOPBACK,
        asap_announce=False,
        enrp_announce=False,
        static_peers=tuple(TransportAddress((ipaddress.ip_address(p),), 9901) for p in peers),
    )
    started: Registrar = await nursery.start(serve_registrar, machines.host(address), config)
    return started


@asynccontextmanager
async def pool_elements(
    machines: Machines, pool: str, service: str, registrar_at: str, count: int = 3
) -> AsyncIterator[list[PoolElementNode]]:
    async with AsyncExitStack() as stack:
        pes = [
            await stack.enter_async_context(
                open_pool_element(
                    machines.host(f"{NET}{10 + n}"),
                    pool,
                    registrars=[f"{registrar_at}:3863"],
                    announces=False,
                    pe_id=0x2000 + n,
                    handler=service_handler(service),
                    min_address_scope=AddressScope.LOOPBACK,
                    session_params=TUNED,
                    deregister_timeout=1.0,  # a crashed PE cannot deregister: do not wait
                )
            )
            for n in range(1, count + 1)
        ]
        for pe in pes:
            await pe.wait_registered()
        yield pes


@pytest.mark.parametrize("how", ["crash", "vanish", "leave"])
async def test_a_pool_user_fails_over_between_three_pes(machines: Machines, how: str) -> None:
    """Registrar, three pingpong PEs, a PU; the PE serving the session crashes (its process
    is gone: its UDP port answers with ICMP port unreachable, an ABORT for SCTP over UDP),
    vanishes (its machine falls silent: found by SCTP timeouts) or leaves (deregisters,
    SHUTDOWN); the session fails over with Cookie Echo and every Ping is answered once."""
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            await registrar(nursery, machines, REGISTRARS[0])
            async with (
                pool_elements(machines, "PingPongPool", "pingpong", REGISTRARS[0]) as pes,
                open_pool_user(
                    machines.host(NET + "30"),
                    registrars=[f"{REGISTRARS[0]}:3863"],
                    announces=False,
                    session_params=TUNED,
                ) as pu,
                pu.session("PingPongPool") as session,
            ):
                lines: list[str] = []

                async def kill_serving_pe() -> None:
                    await trio.sleep(1.05)
                    victim = session.pe_id
                    assert victim is not None
                    n = victim - 0x2000
                    address = f"{NET}{10 + n}"
                    if how == "crash":
                        machines.hosts[address].close()
                    elif how == "vanish":  # every datagram to or from it is dropped
                        gone = machines.hosts[address]
                        for other, host in machines.hosts.items():
                            host.set_path_down(other, address)
                            gone.set_path_down(address, other)
                    else:
                        await pes[n - 1].stop_pe(5)

                nursery.start_soon(kill_serving_pe)
                run = await run_pingpong(session, 30, 0.1, size=100, say=lines.append)
                client = run.client
                assert client.clean, (client, lines)
                assert client.answered == set(range(1, 31)) and client.last_reply_no == 30
                assert run.failovers == 1 and session.failovers == 1
                assert any("with Cookie Echo" in line for line in lines)
            nursery.cancel_scope.cancel()


async def test_two_registrars_share_the_handlespace_over_enrp(machines: Machines) -> None:
    """PEs register at one registrar; a PU that asks the other finds them (ENRP Handle
    Update over the userland stack); a PE that leaves disappears from both."""
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            first = await registrar(nursery, machines, REGISTRARS[0], (REGISTRARS[1],))
            second = await registrar(nursery, machines, REGISTRARS[1], (REGISTRARS[0],))
            await wait_until(lambda: len(first.core.peers()) == len(second.core.peers()) == 1)
            async with (
                pool_elements(machines, "EchoPool", "echo", REGISTRARS[0]) as pes,
                open_pool_user(
                    machines.host(NET + "30"),
                    registrars=[f"{REGISTRARS[1]}:3863"],
                    announces=False,
                ) as pu,
            ):
                found = await pu.resolve("EchoPool", items=3)
                assert {pe.pe_id for pe in found} == {0x2001, 0x2002, 0x2003}
                await pes[0].stop_pe(5)
                await wait_until(lambda: second.core.handlespace.find(b"EchoPool", 0x2001) is None)
            nursery.cancel_scope.cancel()
