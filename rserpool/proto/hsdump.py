"""``hsdump``'s protocol, without I/O: ask a registrar for its peer list and handlespace.

RSPLIB's ``hsdump`` poses as a registrar for a moment (RFC 5353 has no "monitor" role): over
one SCTP association to the registrar's **ENRP** port it sends

1. **Presence** with a random sender id, receiver id 0, the ownership checksum of an empty
   handlespace (0xffff) and Server Information naming its own end of the association, so that
   the registrar adds it to its peer list (a Handle Table Request from a stranger is rejected);
2. **List Request** (the registrar answers with its peer list);
3. **Handle Table Request** without the own-children-only flag (the whole handle table),

and repeats the Handle Table Request while a response has More-to-send set. This module keeps
the conversation (:class:`HandlespaceDump`) and renders the result (:func:`render_dump`); the
Trio runner is :func:`rserpool.drivers.hsdump.dump_handlespace`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from rserpool.handlespace.checksum import compute_checksum
from rserpool.proto.common import TransportAddress
from rserpool.wire import (
    PPID,
    DecodeError,
    EnrpMessage,
    HandleTableRequest,
    HandleTableResponse,
    ListRequest,
    ListResponse,
    PoolElement,
    Presence,
    SctpTransport,
    ServerInformation,
    decode_message_untrusted,
)
from rserpool.wire.constants import PolicyType, TransportUse
from rserpool.wire.params import DccpTransport, OpaqueTransport, Policy, Transport, UnknownPolicy
from rserpool.wire.text import handle_text, ident, policy_text, transport_text

EMPTY_CHECKSUM = 0xFFFF  # the ownership checksum of no PEs (as RSPLIB computes it)


@dataclass
class HandlespaceDump:
    """One hsdump conversation. Feed it every ENRP message from the registrar."""

    sender_id: int
    local: TransportAddress  # our end of the association, advertised in Presence
    registrar_id: int | None = None  # the sender id of the registrar's answers
    registrar_presence: Presence | None = None
    peers: list[ServerInformation] | None = None  # None until the List Response arrived
    pools: dict[bytes, dict[int, PoolElement]] = field(default_factory=dict)
    responses: int = 0  # Handle Table Responses received
    list_rejected: bool = False
    table_rejected: bool = False
    table_complete: bool = False
    ignored: list[str] = field(default_factory=list)  # what else arrived (summaries)

    @classmethod
    def new(cls, local: TransportAddress, rng: random.Random | None = None) -> HandlespaceDump:
        return cls((rng or random.Random()).randint(1, 0xFFFFFFFF), local)

    @property
    def done(self) -> bool:
        """The whole handle table and the peer list (or their rejections) arrived."""
        return self.table_complete and (self.peers is not None or self.list_rejected)

    def start(self) -> list[EnrpMessage]:
        """The opening messages, to send in this order."""
        info = ServerInformation(
            self.sender_id, SctpTransport(self.local.port, self.local.addresses)
        )
        return [
            Presence(
                sender_id=self.sender_id,
                receiver_id=0,
                pe_checksum=EMPTY_CHECKSUM,
                server_information=info,
            ),
            ListRequest(sender_id=self.sender_id, receiver_id=0),
            HandleTableRequest(sender_id=self.sender_id, receiver_id=0),
        ]

    def receive(self, ppid: int, data: bytes) -> list[EnrpMessage]:
        """One message from the registrar; returns what to send next (a further Handle Table
        Request after a response with More-to-send). Undecodable input is noted, not fatal."""
        if ppid != PPID.ENRP:
            self.ignored.append(f"PPID {ppid}, {len(data)} bytes")
            return []
        try:
            message = decode_message_untrusted(ppid, data)
        except DecodeError as exc:
            self.ignored.append(f"undecodable: {exc.reason}")
            return []
        assert isinstance(message, EnrpMessage)
        if isinstance(message, ListResponse):
            self._note_sender(message)
            self.list_rejected = message.reject
            self.peers = [] if message.reject else list(message.servers)
        elif isinstance(message, HandleTableResponse):
            self._note_sender(message)
            self.responses += 1
            if message.reject:
                self.table_rejected = self.table_complete = True
                return []
            for entry in message.entries:
                pool = self.pools.setdefault(entry.pool_handle, {})
                for pe in entry.pool_elements:
                    pool[pe.pe_id] = pe
            if message.more_to_send:
                return [HandleTableRequest(sender_id=self.sender_id, receiver_id=message.sender_id)]
            self.table_complete = True
        elif isinstance(message, Presence):
            self._note_sender(message)
            self.registrar_presence = message
        else:
            self.ignored.append(message.summary())
        return []

    def _note_sender(self, message: EnrpMessage) -> None:
        if self.registrar_id is None:
            self.registrar_id = message.sender_id

    def pe_count(self) -> int:
        return sum(len(pool) for pool in self.pools.values())

    def ownership_checksums(self) -> dict[int, tuple[int, int]]:
        """Home registrar id -> (ownership checksum, PE count), as Presence would carry it."""
        owned: dict[int, list[tuple[bytes, int]]] = {}
        for handle, pool in self.pools.items():
            for pe in pool.values():
                owned.setdefault(pe.home_registrar_id, []).append((handle, pe.pe_id))
        return {home: (compute_checksum(pes), len(pes)) for home, pes in sorted(owned.items())}


def render_dump(dump: HandlespaceDump, registrar: str) -> str:
    """The dump as text: who answered, its peers, then every pool and PE."""
    lines: list[str] = []
    who = "?" if dump.registrar_id is None else ident(dump.registrar_id)
    lines.append(f"Registrar {who} at {registrar} (asked as peer {ident(dump.sender_id)})")
    presence = dump.registrar_presence
    if presence is not None:
        lines.append(f"  Presence: ownership checksum {presence.pe_checksum:#06x}")
    lines.append("")
    if dump.list_rejected:
        lines.append("Peer list: List Request rejected")
    elif dump.peers is None:
        lines.append("Peer list: no List Response")
    else:
        lines.append(f"Peer list (List Response): {len(dump.peers)} peer(s)")
        for info in dump.peers:
            me = "  (this hsdump)" if info.server_id == dump.sender_id else ""
            lines.append(
                f"  registrar {ident(info.server_id)}  {transport_text(info.transport)}{me}"
            )
    lines.append("")
    if dump.table_rejected:
        lines.append("Handlespace: Handle Table Request rejected (are we in its peer list?)")
        return "\n".join(lines) + "\n"
    state = "" if dump.table_complete else ", INCOMPLETE"
    lines.append(
        f"Handlespace (Handle Table Response x{dump.responses}{state}): "
        f"{len(dump.pools)} pool(s), {dump.pe_count()} PE(s)"
    )
    for handle in sorted(dump.pools):
        pool = dump.pools[handle]
        lines.append(f"  Pool {handle_text(handle)}: {len(pool)} PE(s)")
        for pe_id in sorted(pool):
            pe = pool[pe_id]
            life = "inf" if pe.registration_life == 0xFFFFFFFF else f"{pe.registration_life} ms"
            checksum = compute_checksum([(handle, pe_id)])
            lines.append(
                f"    PE {ident(pe_id)}  home {ident(pe.home_registrar_id)}  life {life}  "
                f"policy {policy_text(pe.policy)}  checksum {checksum:#06x}"
            )
            lines.append(f"        user transport {transport_text(pe.user_transport)}")
            if pe.asap_transport is not None:
                lines.append(f"        ASAP transport {transport_text(pe.asap_transport)}")
    owned = dump.ownership_checksums()
    if owned:
        lines.append("")
        lines.append("Ownership checksums (what each home registrar's Presence should carry):")
        for home, (checksum, count) in owned.items():
            lines.append(f"  registrar {ident(home)}: {checksum:#06x} over {count} PE(s)")
    for note in dump.ignored:
        lines.append(f"(also received: {note})")
    return "\n".join(lines) + "\n"


def dump_document(dump: HandlespaceDump, registrar: str) -> dict[str, object]:
    """The dump as a JSON-ready document (``rserpool hsdump --json``): every field of every
    peer and PE, the checksums, and whether the answer was complete."""
    presence = dump.registrar_presence
    pools = []
    for handle in sorted(dump.pools):
        pool = dump.pools[handle]
        elements = []
        for pe_id in sorted(pool):
            pe = pool[pe_id]
            elements.append(
                {
                    "pe_id": ident(pe_id),
                    "home_registrar_id": ident(pe.home_registrar_id),
                    "registration_life_ms": (
                        None if pe.registration_life == 0xFFFFFFFF else pe.registration_life
                    ),
                    "policy": _policy(pe.policy),
                    "user_transport": _transport(pe.user_transport),
                    "asap_transport": (
                        None if pe.asap_transport is None else _transport(pe.asap_transport)
                    ),
                    "checksum": f"{compute_checksum([(handle, pe_id)]):#06x}",
                }
            )
        pools.append(
            {"pool_handle": handle_text(handle), "pool_handle_hex": handle.hex(),
             "pool_elements": elements}
        )  # fmt: skip
    return {
        "registrar": registrar,
        "registrar_id": None if dump.registrar_id is None else ident(dump.registrar_id),
        "asked_as_peer": ident(dump.sender_id),
        "presence_checksum": None if presence is None else f"{presence.pe_checksum:#06x}",
        "peer_list": (
            None
            if dump.peers is None or dump.list_rejected
            else [
                {
                    "server_id": ident(info.server_id),
                    "transport": _transport(info.transport),
                    "this_hsdump": info.server_id == dump.sender_id,
                }
                for info in dump.peers
            ]
        ),
        "peer_list_rejected": dump.list_rejected,
        "handle_table_rejected": dump.table_rejected,
        "complete": dump.table_complete and not dump.table_rejected,
        "handle_table_responses": dump.responses,
        "pool_count": len(dump.pools),
        "pe_count": dump.pe_count(),
        "pools": pools,
        "ownership_checksums": [
            {"home_registrar_id": ident(home), "checksum": f"{checksum:#06x}", "pe_count": count}
            for home, (checksum, count) in dump.ownership_checksums().items()
        ],
        "also_received": list(dump.ignored),
    }


def _transport(t: Transport) -> dict[str, object]:
    if isinstance(t, OpaqueTransport):
        return {"protocol": "Opaque", "data": t.data.hex()}
    document: dict[str, object] = {
        "protocol": transport_text(t).split(" ", 1)[0],
        "addresses": [str(a) for a in t.addresses],
        "port": t.port,
    }
    use = getattr(t, "transport_use", None)
    if use is not None:
        document["transport_use"] = (
            "data+control" if use == TransportUse.DATA_PLUS_CONTROL else "data"
        )
    if isinstance(t, DccpTransport):
        document["service_code"] = t.service_code
    return document


def _policy(p: Policy) -> dict[str, object]:
    if isinstance(p, UnknownPolicy):
        return {"type": f"{p.policy_type:#010x}", "data": p.data.hex()}
    document: dict[str, object] = {
        "type": PolicyType(p.policy_type).name,
        "text": policy_text(p),
    }
    document.update(zip(p.fields, p.values(), strict=True))
    return document
