"""Scripted-peer helpers: real encoded messages in, decoded actions out."""

from __future__ import annotations

import ipaddress
from typing import Any, TypeVar

from rserpool.proto.client.hunt import EndpointAction, RegistrarClient
from rserpool.proto.common import Abort, Endpoint, IPAddress, Send, TransportAddress
from rserpool.wire import (
    PPID,
    Message,
    decode_message_untrusted,
    encode_message,
)

T = TypeVar("T")


def ip(text: str) -> IPAddress:
    return ipaddress.ip_address(text)


def ta(text: str, port: int) -> TransportAddress:
    return TransportAddress(tuple(ip(a) for a in text.split(",")), port)


PR_A = ta("10.0.0.1", 3863)
PR_B = ta("10.0.0.2", 3863)
PR_C = ta("10.0.0.3", 3863)


def wire(message: Message) -> bytes:
    return encode_message(message)


def sent(actions: list[EndpointAction]) -> list[tuple[int | None, Message]]:
    """(assoc id, message) of every Send, after an encode/decode round trip."""
    result = []
    for action in actions:
        if isinstance(action, Send):
            message = decode_message_untrusted(PPID.ASAP, action.encode())
            result.append((action.assoc_id, message))
    return result


def only(items: list[Any], kind: type[T]) -> list[T]:
    return [i for i in items if isinstance(i, kind)]


def aborts(actions: list[EndpointAction]) -> list[int]:
    return [a.assoc_id for a in actions if isinstance(a, Abort) and a.endpoint is Endpoint.ASAP]


def deliver(core: RegistrarClient, assoc_id: int, message: Message, now: int) -> None:
    core.receive_registrar(assoc_id, int(PPID.ASAP), wire(message), now)
