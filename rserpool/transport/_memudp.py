"""UDP on the in-memory network: unicast datagrams along the network's paths (with their
delay and loss) and multicast to every socket joined to the group, one copy per sending
interface, as the ASAP and ENRP announces use it."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

import trio

from rserpool.transport._inbox import Inbox
from rserpool.transport.abc import Address, Datagram

if TYPE_CHECKING:
    from rserpool.transport.memory import MemoryHost, Timer


class MemoryUdpSocket:
    """A UDP socket of a :class:`~rserpool.transport.memory.MemoryHost`; bound to a
    multicast ``group`` it receives what is sent to that group and port."""

    def __init__(self, host: MemoryHost, port: int, group: str | None) -> None:
        self.host = host
        self.net = host.net
        self._port = port
        self.group = str(ipaddress.ip_address(group)) if group is not None else None
        self.inbox = Inbox()
        self._timers: list[Timer] = []

    @property
    def port(self) -> int:
        return self._port

    async def send(self, data: bytes, destination: Address) -> None:
        if self.inbox.closed:
            raise trio.ClosedResourceError("socket was closed")
        await trio.lowlevel.checkpoint()
        ip, port = str(ipaddress.ip_address(destination[0])), destination[1]
        data = bytes(data)
        if ipaddress.ip_address(ip).is_multicast:
            receivers = [u for u in self.net.udp if u.group == ip and u.port == port]
            for source in self.host.addresses():  # one copy per interface
                for receiver in receivers:
                    self._carry(data, source, receiver, receiver.host.addresses())
            return
        target = self.net.host_of(ip)
        if target is None:
            return
        for receiver in self.net.udp:
            if receiver.host is target and receiver.group is None and receiver.port == port:
                sources = [s for s in self.host.addresses() if self.net.path_is_up(s, ip)]
                if sources or target is self.host:
                    source = sources[0] if sources else self.host.addresses()[0]
                    self._carry(data, source, receiver, [ip])

    def _carry(self, data: bytes, source: str, receiver: MemoryUdpSocket, to: list[str]) -> None:
        datagram = Datagram(data, (source, self.port))
        if receiver.host is self.host:
            self.net.call_later(0, lambda: receiver.inbox.put(datagram))
            return
        for address in to:
            if self.net.path_is_up(source, address):
                delay = self.net.transmit(source, address)
                if delay is not None:
                    self.net.call_later(delay, lambda: receiver.inbox.put(datagram))
                return

    async def receive(self) -> Datagram:
        item = await self.inbox.get()
        assert isinstance(item, Datagram)
        return item

    def crash(self) -> None:
        self.inbox.close()
        if self in self.net.udp:
            self.net.udp.remove(self)

    async def aclose(self) -> None:
        self.crash()
        await trio.lowlevel.checkpoint()
