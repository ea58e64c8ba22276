"""Fixtures for the usrsctp interop tests: usrsctp's programs and our userland SCTP host.

``usrsctp`` starts the programs (:mod:`tests.usrsctp.programs`) in the test's nursery, each
on a UDP port of its own, waits until each is ready and kills them all when the test ends.
``ours(peer_udp_port)`` makes a :class:`UserlandHost` on 127.0.0.1 (or ::1) whose INITs go to
that usrsctp program's UDP port.

These tests need no kernel SCTP: they run on the host in every ``make test``. Without
usrsctp's programs (``make setup`` installs ``libusrsctp-examples``) they fail under
``make test`` (RSERPOOL_STRICT) and are skipped by a plain ``pytest``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
import trio

from interop.preflight import HOST, missing
from rserpool.transport.userland import UserlandHost
from tests.usrsctp.programs import LOCALHOST, Program, free_udp_port, start

ECHO_PORT = 7  # echo_server's SCTP port
DISCARD_PORT = 9  # discard_server's
TSCTP_PORT = 5001  # tsctp's default


@pytest.fixture(autouse=True)
def _usrsctp_installed() -> None:
    absent = missing(HOST)
    if absent:
        reason = f"needs {absent[0].what} (install: {absent[0].package}; `make setup`)"
        if os.environ.get("RSERPOOL_STRICT"):
            pytest.fail(f"cannot run here: {reason}", pytrace=False)
        pytest.skip(reason)


class Usrsctp:
    """Starts usrsctp programs in one nursery; :meth:`stop_all` kills them."""

    def __init__(self, nursery: trio.Nursery) -> None:
        self.nursery = nursery
        self.programs: list[Program] = []

    async def _start(self, name: str, *args: str | int) -> Program:
        program = await start(self.nursery, name, *args)
        self.programs.append(program)
        return program

    async def server(self, name: str) -> tuple[Program, int]:
        """``echo_server`` or ``discard_server`` on a free UDP port, listening."""
        udp_port = free_udp_port()
        program = await self._start(name, udp_port)
        await program.wait_listening(udp_port)
        return program, udp_port

    async def tsctp_receiver(self) -> tuple[Program, int]:
        """``tsctp`` receiving on SCTP port 5001, bound to 127.0.0.1 only (``-L``)."""
        udp_port = free_udp_port()
        program = await self._start(
            "tsctp", "-E", udp_port, "-p", TSCTP_PORT, "-L", LOCALHOST, "-v"
        )
        await program.wait_listening(udp_port)
        return program, udp_port

    async def tsctp_sender(
        self, peer: tuple[str, int], peer_udp_port: int, *args: str | int
    ) -> Program:
        """``tsctp`` sending to ``peer`` (our SCTP address) through our UDP port."""
        return await self._start(
            "tsctp", "-E", free_udp_port(), "-U", peer_udp_port, "-p", peer[1],
            "-L", LOCALHOST, *args, peer[0],
        )  # fmt: skip

    async def client(self, peer: tuple[str, int], peer_udp_port: int) -> Program:
        """``client`` connecting to ``peer``; it sends its stdin lines, prints what comes."""
        return await self._start("client", peer[0], peer[1], 0, free_udp_port(), peer_udp_port)

    async def stop_all(self) -> None:
        for program in self.programs:
            await program.stop()


@pytest.fixture
async def usrsctp(nursery: trio.Nursery) -> AsyncIterator[Usrsctp]:
    programs = Usrsctp(nursery)
    try:
        yield programs
    finally:
        await programs.stop_all()


@pytest.fixture
def ours() -> Iterator[Callable[..., UserlandHost]]:
    """``ours(peer_udp_port, address="127.0.0.1")``: a userland host, closed afterwards."""
    hosts: list[UserlandHost] = []

    def make(peer_udp_port: int = 9899, address: str = LOCALHOST) -> UserlandHost:
        host = UserlandHost([address], udp_port=0, peer_udp_port=peer_udp_port)
        hosts.append(host)
        return host

    yield make
    for host in hosts:
        host.close()
