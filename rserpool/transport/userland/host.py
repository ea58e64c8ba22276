"""A host whose SCTP is the project's own, over UDP (RFC 6951): no kernel module, no root.

:class:`UserlandHost` implements the same :class:`rserpool.transport.abc.Host` interface as
:class:`~rserpool.transport.kernel.KernelHost` and the in-memory network: SCTP endpoints,
one-to-one associations and listeners run on :mod:`rserpool.sctp` over one UDP port per host
(9899 by default, the IANA port for SCTP over UDP), and the announce sockets are ordinary
kernel UDP sockets, as with kernel SCTP.

UDP ports: every local address gets a socket on ``udp_port``; an association we start sends to
the peer's ``peer_udp_port`` (9899 unless told otherwise) until the peer's own packets say
where it is reached (RFC 6951 §5.4). Associations a peer starts are answered on the port its
packets came from.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from contextlib import nullcontext

import trio

from rserpool.sctp import SctpConfig
from rserpool.sctp.params import IPAddress
from rserpool.transport.abc import Address, AssociationParams, TransportError
from rserpool.transport.udp import KernelUdpSocket
from rserpool.transport.userland._sockets import (
    UserlandAssociation,
    UserlandEndpoint,
    UserlandListener,
    configure,
)
from rserpool.transport.userland._stack import Enter, UdpStack, make_endpoint

#: The IANA-assigned UDP port for SCTP over UDP (RFC 6951 §5.1).
SCTP_UDP_PORT = 9899


class UserlandHost:
    """One machine's SCTP over UDP on ``addresses`` (see the module docstring)."""

    def __init__(
        self,
        addresses: Sequence[str],
        udp_port: int = SCTP_UDP_PORT,
        *,
        peer_udp_port: int = SCTP_UDP_PORT,
        params: AssociationParams | None = None,
        config: SctpConfig | None = None,
        entered: Enter | None = None,
    ) -> None:
        self._addresses = list(dict.fromkeys(str(ipaddress.ip_address(a)) for a in addresses))
        self._stack = UdpStack(self._addresses, udp_port, entered)
        self._entered = entered
        self.peer_udp_port = peer_udp_port
        self.config = configure(config or SctpConfig(), params)

    def __repr__(self) -> str:
        return f"UserlandHost({self._addresses}, udp_port={self.udp_port})"

    @property
    def udp_port(self) -> int:
        """The local UDP port every address of this host receives SCTP packets on."""
        return self._stack.udp_port

    def addresses(self) -> list[str]:
        return list(self._addresses)

    def set_path_down(self, local: str, peer: str, down: bool = True) -> None:
        """Drop every datagram between ``local`` and ``peer`` (a failed link, for tests and
        demonstrations of multi-homing on one machine)."""
        key = (ipaddress.ip_address(local), ipaddress.ip_address(peer))
        if down:
            self._stack.blocked.add(key)
        else:
            self._stack.blocked.discard(key)

    def close(self) -> None:
        """Close the UDP sockets (associations still open just stop)."""
        self._stack.close()

    def _local(self, addresses: Sequence[str] | None) -> list[IPAddress]:
        if not addresses or any(ipaddress.ip_address(a).is_unspecified for a in addresses):
            return [ipaddress.ip_address(a) for a in self._addresses]
        unknown = [a for a in addresses if str(ipaddress.ip_address(a)) not in self._addresses]
        if unknown:
            raise TransportError(f"{', '.join(unknown)} is not an address of this host")
        return [ipaddress.ip_address(a) for a in addresses]

    def _open(
        self,
        socket: UserlandEndpoint | UserlandListener | UserlandAssociation,
        port: int,
        addresses: Sequence[str] | None,
        params: AssociationParams | None,
    ) -> None:
        """Give ``socket`` an SCTP port of this host (0: a free one) with its own endpoint."""
        config = configure(self.config, params)
        endpoint_of = make_endpoint(self._local(addresses), config)
        socket.binding = self._stack.open(port, endpoint_of, socket)

    async def sctp_endpoint(
        self,
        port: int = 0,
        addresses: Sequence[str] | None = None,
        params: AssociationParams | None = None,
    ) -> UserlandEndpoint:
        endpoint = UserlandEndpoint(self.peer_udp_port)
        self._open(endpoint, port, addresses, params)
        await trio.lowlevel.checkpoint()
        return endpoint

    async def sctp_listen(
        self,
        port: int = 0,
        addresses: Sequence[str] | None = None,
        params: AssociationParams | None = None,
    ) -> UserlandListener:
        listener = UserlandListener()
        self._open(listener, port, addresses, params)
        await trio.lowlevel.checkpoint()
        return listener

    async def sctp_connect(
        self,
        remote: Sequence[Address],
        addresses: Sequence[str] | None = None,
        params: AssociationParams | None = None,
    ) -> UserlandAssociation:
        association = UserlandAssociation()
        self._open(association, 0, addresses, params)
        try:
            await association.connect_and_wait(remote, self.peer_udp_port)
        except BaseException:
            await association.aclose()
            raise
        return association

    async def udp_socket(self, port: int = 0, group: str | None = None) -> KernelUdpSocket:
        with (self._entered or nullcontext)():
            udp = KernelUdpSocket.open(port, group)
        await trio.lowlevel.checkpoint()
        return udp
