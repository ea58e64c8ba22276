"""The userland SCTP sockets: what :class:`UserlandHost` hands to roles.

Each wraps a :class:`Binding` (an SCTP port with its sans-IO endpoint) and turns the core's
RFC 9260 §11.2 notifications into the transport's items (:mod:`rserpool.transport.abc`), the
way the kernel's socket API (RFC 6458) reports them: COMM_UP, COMM_LOST (CANT_STR_ASSOC if the
association never came up), SEND_FAILED for every message the peer never acknowledged,
PEER_ADDR_CHANGE, SHUTDOWN_EVENT, SHUTDOWN_COMP, RESTART.

Cancellation safety: ``send`` either queues the whole message or, cancelled while it waits for
room in the send buffer, nothing; ``receive`` pops an item only after its last checkpoint.
Closing a socket aborts the associations it still has (call ``shutdown`` first for a graceful
close).

Bundling: a message sent while nothing is unacknowledged leaves at once (a request is not
delayed); one sent while DATA is in flight is queued, and everything a task queues goes out
together, in as few packets as fit, when the task lets others run. ``send`` and ``receive``
are always cancellation points, but only every 16th call in a row is a schedule point, so that
a burst of sends (or of messages waiting to be read) is not cut into one packet (or one trip
through the scheduler) per message.
"""

from __future__ import annotations

import dataclasses
import errno
import ipaddress
import os
from collections.abc import Sequence

import trio

from rserpool.sctp import SctpConfig, SctpUsageError, State
from rserpool.sctp import events as ev
from rserpool.transport._inbox import Inbox
from rserpool.transport.abc import (
    Address,
    AddressState,
    AssociationGone,
    AssociationParams,
    CannotConnect,
    CantStartAssociation,
    CommLost,
    CommUp,
    PeerAddressChange,
    PeerShutdown,
    Received,
    Restart,
    SctpMessage,
    SendFailed,
    ShutdownComplete,
    TransportError,
)
from rserpool.transport.userland._stack import Binding

#: The errno of a COMM_LOST or CANT_STR_ASSOC, as the kernel's would say it.
ERRNO = {
    ev.LostReason.ABORTED: errno.ECONNREFUSED,  # an ABORT (before COMM_UP: nobody listens)
    ev.LostReason.UNREACHABLE: errno.ECONNREFUSED,  # ICMP: nobody takes SCTP over UDP there
    ev.LostReason.RETRANSMISSIONS: errno.ETIMEDOUT,
    ev.LostReason.INIT_FAILED: errno.ETIMEDOUT,
    ev.LostReason.PROTOCOL_ERROR: errno.EPROTO,
    ev.LostReason.LOCAL_ABORT: 0,
}
SEND_BUFFER = 256 * 1024  # bytes queued or unacknowledged before send() waits
BURST = 16  # sends in a row without letting other tasks run (a schedule point each 16th)
_SENDING = (State.COOKIE_WAIT, State.COOKIE_ECHOED, State.ESTABLISHED)


def configure(config: SctpConfig, params: AssociationParams | None) -> SctpConfig:
    """The transport's settings (seconds) applied to the core's (milliseconds)."""
    if params is None:
        return config
    ms = {
        "rto_initial": params.rto_initial,
        "rto_min": params.rto_min,
        "rto_max": params.rto_max,
        "hb_interval": params.heartbeat_interval,
    }
    changes: dict[str, int] = {k: round(v * 1000) for k, v in ms.items() if v is not None}
    if params.path_max_retrans is not None:
        changes["path_max_retrans"] = params.path_max_retrans
    if params.max_retrans is not None:
        changes["association_max_retrans"] = params.max_retrans
    return dataclasses.replace(config, **changes)  # type: ignore[arg-type]


class Port:
    """What the three socket kinds share: the binding and the translation of events."""

    def __init__(self) -> None:
        self.binding: Binding | None = None
        self._peer_port: dict[int, int] = {}
        self._up: set[int] = set()

    @property
    def _bound(self) -> Binding:
        if self.binding is None:
            raise trio.ClosedResourceError("socket was closed")
        return self.binding

    @property
    def port(self) -> int:
        return self._bound.endpoint.port

    def _local(self) -> list[Address]:
        endpoint = self._bound.endpoint
        return [(str(a), endpoint.port) for a in endpoint.addresses]

    def _peers(self, assoc_id: int) -> list[Address]:
        if self.binding is None:
            return []
        try:
            assoc = self.binding.endpoint.association(assoc_id)
        except SctpUsageError:
            return []
        return [(str(a), assoc.peer_port) for a in assoc.paths]

    def translate(self, event: ev.SctpEvent) -> list[Received]:
        """One core event as the kernel's socket API would report it."""
        n = event.assoc_id
        match event:
            case ev.DataArrive():
                source = (str(event.source), self._peer_port.get(n, 0)) if event.source else None
                return [
                    SctpMessage(event.data, event.ppid, event.stream, n, event.unordered, source)
                ]
            case ev.CommunicationUp():
                self._up.add(n)
                if self.binding is not None:
                    self._peer_port[n] = self.binding.endpoint.association(n).peer_port
                return [CommUp(n, event.outbound_streams, event.inbound_streams)]
            case ev.CommunicationLost():
                was_up = n in self._up
                self._forget(n)
                error = ERRNO[event.reason]
                ended: Received = CommLost(n, error) if was_up else CantStartAssociation(n, error)
                failed = [
                    SendFailed(n, u.data, u.ppid, u.stream, 0, u.sent) for u in event.undelivered
                ]
                return [ended, *failed]
            case ev.ShutdownComplete():
                self._forget(n)
                return [ShutdownComplete(n)]
            case ev.PeerShutdown():
                return [PeerShutdown(n)]
            case ev.Restart():
                return [Restart(n)]
            case ev.NetworkStatusChange():
                state = AddressState.AVAILABLE if event.active else AddressState.UNREACHABLE
                address = (str(event.address), self._peer_port.get(n, 0))
                return [PeerAddressChange(n, address, state)]
        return []  # CommunicationError: the causes are the core's business

    def _forget(self, assoc_id: int) -> None:
        self._up.discard(assoc_id)
        self._peer_port.pop(assoc_id, None)

    # ------------------------------------------------------------ calls into the core

    def _start(self, addresses: Sequence[Address], udp_port: int) -> int:
        if not addresses:
            raise TransportError("no address to connect to")
        binding = self._bound
        peer_port = addresses[0][1]
        ips = [ipaddress.ip_address(ip) for ip, _ in addresses]
        try:
            assoc_id = binding.endpoint.connect(ips, peer_port, udp_port, binding.stack.now())
        except SctpUsageError as e:
            raise TransportError(str(e)) from None
        self._peer_port[assoc_id] = peer_port
        binding.flush()
        return assoc_id

    async def _send(
        self, assoc_id: int, data: bytes, ppid: int, stream: int, unordered: bool
    ) -> None:
        await trio.lowlevel.checkpoint_if_cancelled()
        binding = self._bound
        while True:
            try:
                assoc = binding.endpoint.association(assoc_id)
            except SctpUsageError:
                raise AssociationGone(f"association {assoc_id} does not exist") from None
            if assoc.state not in _SENDING:
                raise AssociationGone(f"association {assoc_id} is {assoc.state.value}")
            if binding.endpoint.buffered(assoc_id) < SEND_BUFFER:
                break
            await binding.room.park()
        # Nothing unacknowledged: send at once (a request goes out without delay). Otherwise
        # queue it and send when this task yields, with whatever else it sends until then.
        defer = assoc.in_flight
        try:
            binding.endpoint.send(
                assoc_id, stream, ppid, data, binding.stack.now(), unordered, defer
            )
        except SctpUsageError as e:
            raise TransportError(str(e)) from None
        if defer:
            binding.stack.defer(binding, assoc_id)
            binding.burst += 1
            if binding.burst % BURST:
                return  # a cancellation point but no schedule point, so that a burst bundles
        else:
            binding.flush()
        await trio.lowlevel.cancel_shielded_checkpoint()

    async def _end(self, assoc_id: int, graceful: bool) -> None:
        binding = self._bound
        now = binding.stack.now()
        try:
            if graceful:
                binding.endpoint.shutdown(assoc_id, now)
            else:
                binding.endpoint.abort(assoc_id, now)
        except SctpUsageError:
            raise AssociationGone(f"association {assoc_id} does not exist") from None
        binding.flush()
        await trio.lowlevel.checkpoint()

    def _configure(self, assoc_id: int, params: AssociationParams) -> None:
        endpoint = self._bound.endpoint
        try:
            current = endpoint.config if assoc_id == 0 else endpoint.association(assoc_id).config
            endpoint.reconfigure(assoc_id, configure(current, params))
        except SctpUsageError:
            pass  # gone already, as the kernel's setsockopt on a closed association

    def _close(self) -> None:
        """Abort what is left and give the port back."""
        binding = self.binding
        if binding is None:
            return
        self.binding = None
        for assoc_id in list(binding.endpoint.associations):
            binding.endpoint.abort(assoc_id, binding.stack.now())
        binding.stack.flush(binding)
        binding.stack.release(binding)


class UserlandEndpoint(Port):
    """A one-to-many endpoint (:class:`rserpool.transport.abc.SctpEndpoint`)."""

    def __init__(self, peer_udp_port: int) -> None:
        super().__init__()
        self.inbox = Inbox(BURST)
        self._peer_udp_port = peer_udp_port

    def handle(self, event: ev.SctpEvent) -> None:
        for item in self.translate(event):
            self.inbox.put(item)

    def local_addresses(self) -> list[Address]:
        return self._local()

    def peer_addresses(self, assoc_id: int) -> list[Address]:
        return self._peers(assoc_id)

    async def connect(self, addresses: Sequence[Address]) -> int:
        await trio.lowlevel.checkpoint()
        return self._start(addresses, self._peer_udp_port)

    async def send(
        self, assoc_id: int, data: bytes, ppid: int, stream: int = 0, unordered: bool = False
    ) -> None:
        await self._send(assoc_id, data, ppid, stream, unordered)

    async def receive(self) -> Received:
        return await self.inbox.get()  # type: ignore[return-value]

    def set_association_params(self, assoc_id: int, params: AssociationParams) -> None:
        self._configure(assoc_id, params)

    async def shutdown(self, assoc_id: int) -> None:
        await self._end(assoc_id, graceful=True)

    async def abort(self, assoc_id: int) -> None:
        await self._end(assoc_id, graceful=False)

    async def aclose(self) -> None:
        self._close()
        self.inbox.close()
        await trio.lowlevel.checkpoint()


class UserlandAssociation(Port):
    """A one-to-one association (:class:`rserpool.transport.abc.SctpAssociation`): either
    its own port (``sctp_connect``) or one association of a listener's port."""

    def __init__(self, binding: Binding | None = None, assoc_id: int = 0) -> None:
        super().__init__()
        self.binding = binding
        self._assoc_id = assoc_id
        self.inbox = Inbox(BURST)
        self.ended = False
        self._owns_port = binding is None

    @property
    def assoc_id(self) -> int:
        return self._assoc_id

    def handle(self, event: ev.SctpEvent) -> None:
        for item in self.translate(event):
            self.inbox.put(item)
            if isinstance(item, CommLost | CantStartAssociation | ShutdownComplete):
                self.ended = True

    async def connect_and_wait(self, remote: Sequence[Address], udp_port: int) -> None:
        self._assoc_id = self._start(remote, udp_port)
        while True:
            item = await self.inbox.get()
            if isinstance(item, CommUp):
                self.inbox.put_front(item)
                return
            if isinstance(item, CantStartAssociation):
                self._close()
                where = ", ".join(f"{a}:{p}" for a, p in remote)
                why = os.strerror(item.error).lower() if item.error else "refused"
                raise CannotConnect(f"cannot reach {where}: {why}")

    def local_addresses(self) -> list[Address]:
        return self._local()

    def peer_addresses(self) -> list[Address]:
        return self._peers(self._assoc_id)

    async def send(self, data: bytes, ppid: int, stream: int = 0, unordered: bool = False) -> None:
        if self.ended:
            raise AssociationGone("the association has ended")
        await self._send(self._assoc_id, data, ppid, stream, unordered)

    async def receive(self) -> Received:
        if self.binding is None:
            raise trio.ClosedResourceError("socket was closed")
        if self.ended and not self.inbox:
            await trio.lowlevel.checkpoint()
            raise trio.EndOfChannel
        return await self.inbox.get()  # type: ignore[return-value]

    def set_association_params(self, params: AssociationParams) -> None:
        self._configure(self._assoc_id, params)

    async def shutdown(self) -> None:
        if self.ended:
            raise AssociationGone("the association has ended")
        await self._end(self._assoc_id, graceful=True)

    async def abort(self) -> None:
        if not self.ended:
            await self._end(self._assoc_id, graceful=False)

    async def aclose(self) -> None:
        binding = self.binding
        if binding is not None and not self._owns_port:
            self.binding = None
            if not self.ended:
                binding.endpoint.abort(self._assoc_id, binding.stack.now())
                binding.flush()
        else:
            self._close()
        self.inbox.close()
        await trio.lowlevel.checkpoint()


class UserlandListener(Port):
    """A listening one-to-one socket: each association that comes up is accepted as a
    :class:`UserlandAssociation` on the same port."""

    def __init__(self) -> None:
        super().__init__()
        self._accepted: dict[int, UserlandAssociation] = {}
        self._backlog = Inbox()
        self._listening = True

    def handle(self, event: ev.SctpEvent) -> None:
        assoc = self._accepted.get(event.assoc_id)
        if assoc is None:
            if not isinstance(event, ev.CommunicationUp) or self.binding is None:
                return
            if not self._listening:  # closed listener: refuse, as a closed port would
                self.binding.endpoint.abort(event.assoc_id, self.binding.stack.now())
                return
            assoc = self._accepted[event.assoc_id] = UserlandAssociation(
                self.binding, event.assoc_id
            )
            self._backlog.put(assoc)
        assoc.handle(event)
        if assoc.ended:
            del self._accepted[event.assoc_id]
            self._release_if_idle()

    async def accept(self) -> UserlandAssociation:
        return await self._backlog.get()  # type: ignore[return-value]

    async def aclose(self) -> None:
        self._listening = False
        self._backlog.close()
        self._release_if_idle()
        await trio.lowlevel.checkpoint()

    def _release_if_idle(self) -> None:
        """The port stays while accepted associations live on it."""
        if not self._listening and not self._accepted and self.binding is not None:
            self.binding.stack.release(self.binding)
            self.binding = None
