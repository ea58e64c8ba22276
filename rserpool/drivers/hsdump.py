"""The Trio runner of :mod:`rserpool.proto.hsdump`: one association, a few messages, a dump.

dump = await dump_handlespace(host, [("198.51.100.1", 9901)])
print(render_dump(dump, "198.51.100.1:9901"))
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from contextlib import suppress

import trio

from rserpool.drivers.associations import transport_of
from rserpool.proto.common import TransportAddress
from rserpool.proto.hsdump import HandlespaceDump
from rserpool.scope import AddressScope, address_scope
from rserpool.transport import Address, Host, SctpAssociation, SctpMessage, TransportError
from rserpool.wire import PPID, encode_message

LIST_GRACE = 2.0  # seconds to wait for a late List Response once the table is complete


class HsdumpError(TransportError):
    """The registrar could not be reached or closed the association early."""


async def dump_handlespace(
    host: Host,
    registrar: Sequence[Address],
    *,
    rng: random.Random | None = None,
) -> HandlespaceDump:
    """Connect to the registrar's ENRP endpoint, run the conversation, return the dump.

    Raises :class:`HsdumpError` if the association cannot be set up or ends before the whole
    handle table arrived. Wrap it in ``trio.fail_after``: a registrar may stay silent.
    """
    try:
        association = await host.sctp_connect(registrar)
    except TransportError as exc:
        raise HsdumpError(f"cannot connect to {registrar}: {exc}") from exc
    try:
        local = advertised(association.local_addresses())
        dump = HandlespaceDump.new(local, rng)
        for message in dump.start():
            await association.send(encode_message(message), PPID.ENRP)
        while not dump.done:
            if dump.table_complete:  # RSPLIB answers the List Request first; be lenient
                with trio.move_on_after(LIST_GRACE) as grace:
                    await _exchange(association, dump)
                if grace.cancelled_caught:
                    break
            else:
                await _exchange(association, dump)
    except (trio.EndOfChannel, TransportError, trio.BrokenResourceError) as exc:
        raise HsdumpError(f"the registrar closed the association: {exc}") from exc
    finally:
        await close_gracefully(association)
    return dump


async def close_gracefully(association: SctpAssociation) -> None:
    """SHUTDOWN and close, shielded from cancellation, giving the peer at most 2 s."""
    with trio.CancelScope(shield=True), trio.move_on_after(2):
        with suppress(TransportError, trio.BrokenResourceError, trio.ClosedResourceError):
            await association.shutdown()
        await association.aclose()


def advertised(addresses: Sequence[Address]) -> TransportAddress:
    """Our end of the association for the Presence: loopback and link-local addresses left
    out (RSPLIB drops them anyway) unless there is nothing else."""
    local = transport_of(addresses) or TransportAddress((), 0)
    usable = tuple(a for a in local.addresses if address_scope(a) > AddressScope.LINK_LOCAL)
    return TransportAddress(usable or local.addresses, local.port)


async def _exchange(association: SctpAssociation, dump: HandlespaceDump) -> None:
    item = await association.receive()
    if isinstance(item, SctpMessage):
        for reply in dump.receive(item.ppid, item.data):
            await association.send(encode_message(reply), PPID.ENRP)
