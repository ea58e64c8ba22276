"""A scripted pool element and pool user over the in-memory network, for the driver tests.

They speak ASAP through the real transport (a one-to-many SCTP endpoint, like RSPLIB's
PEs, with one association to the registrar) and the real codec; what they send is spelled out
by the test.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import trio

from rserpool.proto.common import Event, IPAddress
from rserpool.transport import (
    Address,
    CantStartAssociation,
    CommUp,
    Host,
    SctpEndpoint,
    SctpMessage,
)
from rserpool.wire import (
    PPID,
    EndpointKeepAlive,
    EndpointKeepAliveAck,
    Message,
    PolicyType,
    PoolElement,
    PoolMemberSelectionPolicy,
    Registration,
    SctpTransport,
    TransportUse,
    decode_message_untrusted,
    encode_message,
)

POOL = b"EchoPool"

E = TypeVar("E", bound=Event)


def ips(*texts: str) -> tuple[IPAddress, ...]:
    return tuple(ipaddress.ip_address(t) for t in texts)


def registration(pe_id: int, addresses: Sequence[str], port: int = 7000) -> Registration:
    user = SctpTransport(port, ips(*addresses), TransportUse.DATA_PLUS_CONTROL)
    pe = PoolElement(pe_id, 0, 90_000, user, PoolMemberSelectionPolicy(PolicyType.ROUND_ROBIN))
    return Registration(pool_handle=POOL, pool_element=pe)


@dataclass
class Received:
    assoc_id: int
    message: Message


@dataclass
class AsapClient:
    """A PE or PU as RSPLIB builds one: a one-to-many SCTP endpoint (so that a new home
    registrar can reach it after a takeover) with one association to a registrar."""

    host: Host
    endpoint: SctpEndpoint
    assoc_id: int
    log: list[Received] = field(default_factory=list)
    auto_ack: bool = True  # answer Endpoint Keep Alive like an RSPLIB PE
    _arrived: trio.Event = field(default_factory=trio.Event)

    @classmethod
    async def connect(cls, host: Host, registrar: Sequence[Address]) -> AsapClient:
        endpoint = await host.sctp_endpoint()
        assoc_id = await endpoint.connect(registrar)
        while True:
            item = await endpoint.receive()
            if isinstance(item, CommUp) and item.assoc_id == assoc_id:
                return cls(host, endpoint, assoc_id)
            if isinstance(item, CantStartAssociation):
                raise AssertionError(f"cannot reach the registrar at {registrar}")

    @property
    def received(self) -> list[Message]:
        return [r.message for r in self.log]

    async def send(self, message: Message, assoc_id: int | None = None) -> None:
        assoc = self.assoc_id if assoc_id is None else assoc_id
        await self.endpoint.send(assoc, encode_message(message), PPID.ASAP)

    async def send_raw(self, data: bytes, ppid: int) -> None:
        await self.endpoint.send(self.assoc_id, data, ppid)

    async def run(self) -> None:
        """Receive until the endpoint is closed (run it in a nursery)."""
        while True:
            try:
                item = await self.endpoint.receive()
            except trio.ClosedResourceError:
                return
            if not isinstance(item, SctpMessage):
                continue
            message = decode_message_untrusted(item.ppid, item.data)
            self.log.append(Received(item.assoc_id, message))
            self._arrived.set()
            self._arrived = trio.Event()
            if self.auto_ack and isinstance(message, EndpointKeepAlive):
                assert message.pe_id is not None
                ack = EndpointKeepAliveAck(pool_handle=message.pool_handle, pe_id=message.pe_id)
                await self.send(ack, item.assoc_id)

    async def expect(self, kind: type[Message], count: int = 1) -> list[Message]:
        """Wait until ``count`` messages of ``kind`` arrived; return them."""
        while True:
            found = [m for m in self.received if isinstance(m, kind)]
            if len(found) >= count:
                return found
            await self._arrived.wait()


async def wait_until(condition: Callable[[], object], step: float = 0.05) -> None:
    """Poll a registrar's state (it has no change notifications) in virtual time."""
    while not condition():  # noqa: ASYNC110
        await trio.sleep(step)


async def next_event(
    events: trio.MemoryReceiveChannel[Event], kind: type[E], **fields: object
) -> E:
    """The next event of ``kind`` (with these field values) from a driver's event stream."""
    async for event in events:
        if isinstance(event, kind) and all(getattr(event, k) == v for k, v in fields.items()):
            return event
    raise AssertionError(f"the event stream ended before a {kind.__name__}")
