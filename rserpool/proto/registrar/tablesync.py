"""What a registrar learns from its peers' handlespaces (RFC 5353 §3.6, §3.7, §3.9).

Handle Table downloads (the mentor's whole table at startup, a peer's own children after a
checksum mismatch, then its whole table to verify what a resync would purge) and Handle
Updates, each PE applied as non-home after the checks against hostile or stale data. What we
serve our peers from our own state is :mod:`.handletable`; the rest of ENRP, :mod:`.enrp`.
"""

from __future__ import annotations

from collections.abc import Callable

from rserpool.handlespace import PoolElement as StoredPE
from rserpool.handlespace import RegistrationRejected
from rserpool.proto.common import AssocId, Endpoint
from rserpool.proto.registrar.events import (
    HandleTableSynchronized,
    MessageIgnored,
    PeerChecksumMismatched,
    PoolElementLearned,
    RemovalReason,
)
from rserpool.proto.registrar.machines import StartupInput, StartupState
from rserpool.proto.registrar.peers import HandleTableDownload, Peer
from rserpool.proto.registrar.state import RegistrarState, transport_kind
from rserpool.wire import (
    HandleTableRequest,
    HandleTableResponse,
    HandleUpdate,
    PoolElement,
    UnknownPolicy,
    UpdateAction,
)


class TableSync:
    """Handle Table downloads and audits, Handle Updates: peers' PEs into our handlespace.

    ``mentor_table_complete(now)`` is called once the mentor's table has arrived in startup
    (the ENRP server then goes into service)."""

    def __init__(self, state: RegistrarState, mentor_table_complete: Callable[[int], None]) -> None:
        self.state = state
        self.mentor_table_complete = mentor_table_complete

    def audit(self, peer: Peer, checksum: int, now: int) -> None:
        """RFC 5353 §3.6: a checksum mismatch starts an own-children-only resync."""
        state = self.state
        download = peer.download
        limit = state.config.peer_max_time_no_response
        if download is not None and now - download.started <= limit:
            return  # a download is under way
        expected = state.handlespace.ownership_checksum(peer.server_id)
        if checksum == expected:
            return
        state.emit(PeerChecksumMismatched(peer.server_id, expected, checksum))
        self.request_table(peer, own_children_only=True, now=now)

    def request_table(self, peer: Peer, *, own_children_only: bool, now: int) -> None:
        state = self.state
        download = HandleTableDownload(own_children_only, now)
        if own_children_only:  # mark; whatever the responses do not refresh is purged
            download.stale = {pe.key for pe in state.handlespace.elements_of_owner(peer.server_id)}
        peer.download = download
        request = HandleTableRequest(
            sender_id=state.server_id,
            receiver_id=peer.server_id,
            own_children_only=own_children_only,
        )
        state.send_to_peer(peer, request)

    def handle_table_response(
        self, msg: HandleTableResponse, assoc_id: AssocId, peer: Peer | None, now: int
    ) -> None:
        state = self.state
        if peer is None:
            state.emit(MessageIgnored(Endpoint.ENRP, None, "HT Response from unknown peer"))
            return
        download = peer.download
        if msg.reject:
            peer.download = None
            state.emit(MessageIgnored(Endpoint.ENRP, peer.assoc_id, "HT Request rejected"))
            if state.mentor_id == peer.server_id:  # in startup: try the next peer heard
                state.advance_startup(StartupInput.MENTOR_LOST)
            return
        for entry in msg.entries:
            for wire in entry.pool_elements:
                applied = self.apply_pe(entry.pool_handle, wire, peer.server_id, now)
                if applied and download is not None and not download.verifying:
                    download.received += 1
                if download is not None:
                    download.stale.discard((entry.pool_handle, wire.pe_id))
        if download is None:
            return  # not asked for (or given up on): nothing to continue or to purge
        if msg.more_to_send:
            download.started = now
            request = HandleTableRequest(
                sender_id=state.server_id,
                receiver_id=peer.server_id,
                own_children_only=download.own_children_only,
            )
            state.send_to_peer(peer, request)
            return
        peer.download = None
        if download.own_children_only and download.stale:
            # Not the peer's any more: maybe another registrar's now (a takeover, a healed
            # partition). The peer's whole table tells; only PEs it does not know are purged.
            verify = HandleTableDownload(False, now, download.stale, download.received, True)
            peer.download = verify
            request = HandleTableRequest(
                sender_id=state.server_id, receiver_id=peer.server_id, own_children_only=False
            )
            state.send_to_peer(peer, request)
            return
        purged = 0
        for key in sorted(download.stale):
            pe = state.handlespace.find(*key)
            if pe is not None and pe.home_registrar_id == peer.server_id:
                state.remove_pe(pe, RemovalReason.RESYNC_PURGE, announce=False)
                purged += 1
        state.emit(
            HandleTableSynchronized(
                peer.server_id,
                download.own_children_only or download.verifying,
                download.received,
                purged,
            )
        )
        if state.mentor_id == peer.server_id:
            old = state.advance_startup(StartupInput.MENTOR_TABLE_COMPLETE)
            if old is StartupState.SYNCHRONIZING:
                self.mentor_table_complete(now)

    def apply_pe(self, handle: bytes, wire: PoolElement, peer_id: int, now: int) -> bool:
        """A PE from a peer (Handle Update ADD_PE or a Handle Table entry), as non-home.

        Ignored: PEs claiming us as home (RSPLIB), home id 0, no ASAP transport, unknown
        policies, and PEs that fail the pool's consistency checks.
        """
        state = self.state
        home = wire.home_registrar_id
        if home in (0, state.server_id) or wire.asap_transport is None:
            return False
        if isinstance(wire.policy, UnknownPolicy):
            return False
        ours = state.handlespace.find(handle, wire.pe_id)
        if ours is not None and state.is_home(ours) and home > state.server_id:
            # Two homes (a healed partition: both took the PE over): the lower id keeps it,
            # as in takeover conflicts, and tells everybody; the other one yields.
            reason = f"PE {wire.pe_id:#010x} claimed by {home:#010x}: the lower id keeps it"
            state.emit(MessageIgnored(Endpoint.ENRP, None, reason))
            state.broadcast_update(UpdateAction.ADD_PE, ours)
            return False
        protocol, control_channel = transport_kind(wire.user_transport)
        try:
            result = state.handlespace.register(
                handle,
                wire.pe_id,
                home_registrar_id=home,
                registration_life=wire.registration_life,
                policy=wire.policy,
                user_transport=wire.user_transport,
                transport_protocol=protocol,
                control_channel=control_channel,
                asap_transport=wire.asap_transport,
                now=now,
            )
        except RegistrationRejected as exc:
            reason = f"PE {wire.pe_id:#010x} from peer {peer_id:#010x}: {exc}"
            state.emit(MessageIgnored(Endpoint.ENRP, None, reason))
            return False
        state.supervise(result.element, now)
        state.emit(PoolElementLearned(handle, wire.pe_id, home, peer_id, result.created))
        return True

    def handle_update(
        self, msg: HandleUpdate, assoc_id: AssocId, sender: Peer | None, now: int
    ) -> None:
        """A peer's update of a PE it is home of: ADD_PE must name the sender as home; DEL_PE
        removes only a PE whose home is the sender (in our copy or in the message)."""
        state = self.state
        if msg.action == UpdateAction.ADD_PE:
            if msg.pool_element.home_registrar_id != msg.sender_id:
                reason = f"ADD_PE from {msg.sender_id:#010x} for a PE of another home"
                state.emit(MessageIgnored(Endpoint.ENRP, assoc_id, reason))
                return
            self.apply_pe(msg.pool_handle, msg.pool_element, msg.sender_id, now)
            return
        pe: StoredPE | None = state.handlespace.find(msg.pool_handle, msg.pool_element.pe_id)
        if pe is None:
            return
        if state.is_home(pe):  # our keep-alives supervise it; a stale DEL must not remove it
            state.emit(MessageIgnored(Endpoint.ENRP, None, "DEL_PE for a PE we are home of"))
            return
        if msg.sender_id not in (pe.home_registrar_id, msg.pool_element.home_registrar_id):
            reason = f"DEL_PE from {msg.sender_id:#010x} for a PE of {pe.home_registrar_id:#010x}"
            state.emit(MessageIgnored(Endpoint.ENRP, assoc_id, reason))
            return
        state.remove_pe(pe, RemovalReason.HANDLE_UPDATE, announce=False)
