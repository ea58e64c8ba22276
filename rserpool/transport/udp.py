"""UDP for registrar announces and ENRP presence, as RSPLIB does it.

Multicast is sent once per interface that is up and multicast-capable (``IP_MULTICAST_IF`` per
interface) with TTL 30 and loopback delivery on; a listener binds ``group:port`` with
SO_REUSEADDR and joins the group on each such interface. ``IP_MULTICAST_ALL`` is turned off so
that a socket only receives the groups it joined itself (the announce sender of a registrar is
bound to the wildcard on the same port as a listener may be). Interfaces are looked up once, in
the network namespace the socket is created in.
"""

from __future__ import annotations

import fcntl
import ipaddress
import socket
import struct

import trio

from rserpool.transport.abc import ANNOUNCE_TTL, Address, Datagram, TransportError

SIOCGIFFLAGS = 0x8913
IFF_UP = 0x1
IFF_MULTICAST = 0x1000
IP_MULTICAST_ALL = 49
IPV6_MULTICAST_ALL = 29
MAX_DATAGRAM = 65535


def multicast_interfaces() -> list[tuple[int, str]]:
    """``(index, name)`` of the interfaces that are up and multicast-capable (this netns)."""
    found = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for index, name in socket.if_nameindex():
            request = struct.pack("16sH22x", name.encode()[:15], 0)
            (flags,) = struct.unpack_from(
                "H", fcntl.ioctl(probe.fileno(), SIOCGIFFLAGS, request), 16
            )
            if flags & IFF_UP and flags & IFF_MULTICAST:
                found.append((index, name))
    return found


class KernelUdpSocket:
    def __init__(self, sock: socket.socket, interfaces: list[tuple[int, str]]) -> None:
        sock.setblocking(False)
        self._sock = sock
        self._interfaces = interfaces
        self._closed = False

    @classmethod
    def open(cls, port: int, group: str | None) -> KernelUdpSocket:
        """Create it (call inside the namespace it belongs to)."""
        v6 = group is not None and ipaddress.ip_address(group).version == 6
        family = socket.AF_INET6 if v6 else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            interfaces = multicast_interfaces()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if v6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, ANNOUNCE_TTL)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 1)
                sock.setsockopt(socket.IPPROTO_IPV6, IPV6_MULTICAST_ALL, 0)
            else:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ANNOUNCE_TTL)
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
                sock.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
            sock.bind((group or "0.0.0.0", port))
            if group is not None:
                packed = ipaddress.ip_address(group).packed
                for index, _name in interfaces:
                    if v6:
                        mreq = packed + struct.pack("=I", index)
                        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
                    else:
                        mreqn = packed + bytes(4) + struct.pack("=i", index)
                        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
        except BaseException:
            sock.close()
            raise
        return cls(sock, interfaces)

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    def _check_open(self) -> None:
        if self._closed:
            raise trio.ClosedResourceError("socket was closed")

    def _select_interface(self, index: int) -> None:
        if self._sock.family == socket.AF_INET6:
            self._sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
        else:
            mreqn = bytes(8) + struct.pack("=i", index)
            self._sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, mreqn)

    async def send(self, data: bytes, destination: Address) -> None:
        """Send; a multicast destination goes out on every multicast-capable interface."""
        self._check_open()
        await trio.lowlevel.checkpoint()
        if not ipaddress.ip_address(destination[0]).is_multicast or not self._interfaces:
            self._sendto(data, destination)
            return
        errors: list[OSError] = []
        for index, _name in self._interfaces:
            try:
                self._select_interface(index)
                self._sendto(data, destination)
            except OSError as exc:
                errors.append(exc)
        if len(errors) == len(self._interfaces):
            raise TransportError(f"multicast to {destination} failed: {errors[0]}")

    def _sendto(self, data: bytes, destination: Address) -> None:
        try:
            self._sock.sendto(data, destination)
        except BlockingIOError:
            pass  # a full send buffer drops an announce, as UDP would; the next one follows
        except OSError as exc:
            raise TransportError(f"send to {destination}: {exc}") from exc

    async def receive(self) -> Datagram:
        while True:
            self._check_open()
            await trio.lowlevel.checkpoint_if_cancelled()
            try:
                data, source = self._sock.recvfrom(MAX_DATAGRAM)
            except BlockingIOError:
                await trio.lowlevel.wait_readable(self._sock.fileno())
                continue
            await trio.lowlevel.cancel_shielded_checkpoint()
            return Datagram(data, (str(source[0]), int(source[1])))

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            trio.lowlevel.notify_closing(self._sock.fileno())
            self._sock.close()
        await trio.lowlevel.checkpoint()
