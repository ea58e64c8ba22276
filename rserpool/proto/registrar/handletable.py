"""What a registrar serves its peers from its own state: Handle Table and List Responses.

RFC 5353 §3.7 and §3.8; RSPLIB's paging: at most ``max_elements_per_ht_request`` PEs and
1400 bytes per Handle Table Response, More-to-send set while more remain, the cursor kept per
peer so that the next request continues where the last response stopped.

A Handle Table Request does not say whether it continues a download or starts one, so the
cursor lapses: a request that comes later than max-time-no-response after the last page (the
requester gave up on a lost request and starts again) is answered from the beginning, as is
one of the other kind (own children only or not).
"""

from __future__ import annotations

from rserpool.handlespace import Key
from rserpool.proto.common import AssocId, Endpoint, Send
from rserpool.proto.registrar.config import MAX_HT_RESPONSE_BYTES
from rserpool.proto.registrar.events import MessageIgnored
from rserpool.proto.registrar.peers import HandleTableContinuation, Peer
from rserpool.proto.registrar.state import RegistrarState
from rserpool.wire import (
    HandleTableRequest,
    HandleTableResponse,
    ListRequest,
    ListResponse,
    PoolElement,
    PoolEntry,
    SctpTransport,
    ServerInformation,
)
from rserpool.wire.buffer import pad4

MAX_LIST_RESPONSE_BYTES = 0xFFFF


class TableServer:
    """Answers Handle Table Requests (in pages) and List Requests."""

    def __init__(self, state: RegistrarState) -> None:
        self.state = state

    def handle_table_request(
        self, msg: HandleTableRequest, assoc_id: AssocId, peer: Peer | None, now: int
    ) -> None:
        """Answer one page; RSPLIB rejects requesters that are not in the peer list."""
        state = self.state
        if peer is None:
            reject = HandleTableResponse(
                sender_id=state.server_id, receiver_id=msg.sender_id, reject=True
            )
            state.act(Send(Endpoint.ENRP, assoc_id, reject))
            state.emit(MessageIgnored(Endpoint.ENRP, assoc_id, "HT Request from unknown peer"))
            return
        after = None
        cont = peer.continuation
        fresh = cont is not None and now - cont.at < state.config.peer_max_time_no_response
        if cont is not None and fresh and cont.own_children_only == msg.own_children_only:
            after = cont.after
        entries, last, more = self._page(after, msg.own_children_only)
        peer.continuation = None
        if more and last is not None:
            peer.continuation = HandleTableContinuation(msg.own_children_only, last, now)
        response = HandleTableResponse(
            sender_id=state.server_id,
            receiver_id=peer.server_id,
            entries=entries,
            more_to_send=more,
        )
        state.act(Send(Endpoint.ENRP, assoc_id, response))

    def _page(
        self, after: Key | None, own_children_only: bool
    ) -> tuple[tuple[PoolEntry, ...], Key | None, bool]:
        """PEs after the cursor: at most ``max_elements_per_ht_request`` and 1400 bytes.

        A single PE larger than 1400 bytes goes alone (RSPLIB would send nothing at all).
        Returns (entries, last key consumed, more to send).
        """
        state = self.state
        limit = state.config.max_elements_per_ht_request
        owner = state.server_id if own_children_only else None
        candidates = state.handlespace.page(after, limit + 1, owner=owner)
        groups: list[tuple[bytes, list[PoolElement]]] = []
        size, count, last = 12, 0, after
        more = len(candidates) > limit
        for pe in candidates[:limit]:
            wire = state.wire_pe(pe)
            if wire is None:
                last = pe.key
                continue
            pe_size = len(wire.encode())
            new_group = not groups or groups[-1][0] != pe.pool_handle
            handle_size = 4 + len(pe.pool_handle) + pad4(4 + len(pe.pool_handle))
            needed = pe_size + (handle_size if new_group else 0)
            if count and size + needed > MAX_HT_RESPONSE_BYTES:
                more = True
                break
            if new_group:
                groups.append((pe.pool_handle, []))
            groups[-1][1].append(wire)
            size += needed
            count += 1
            last = pe.key
        entries = tuple(PoolEntry(handle, tuple(pes)) for handle, pes in groups)
        return entries, last, more

    def list_request(
        self, msg: ListRequest, assoc_id: AssocId, peer: Peer | None, now: int
    ) -> None:
        """Our peer list, truncated silently to one message (RSPLIB)."""
        state = self.state
        servers: list[ServerInformation] = []
        size = 12
        for peer in state.peers:
            info = ServerInformation(
                peer.server_id, SctpTransport(peer.transport.port, peer.transport.addresses)
            )
            size += len(info.encode())
            if size > MAX_LIST_RESPONSE_BYTES:
                break  # RSPLIB: truncated silently
            servers.append(info)
        response = ListResponse(
            sender_id=state.server_id, receiver_id=msg.sender_id, servers=tuple(servers)
        )
        state.act(Send(Endpoint.ENRP, assoc_id, response))
