"""The State Cookie (RFC 9260 §5.1.3, §5.1.5): everything needed to create the association,
signed with HMAC-SHA256, so an endpoint keeps no state for an INIT it answered.

Layout (network byte order), then a 32-byte HMAC-SHA256 over all of it::

    version(1) key epoch(4) created ms(8) lifespan ms(4)
    local tag, peer tag, local tie-tag, peer tie-tag (4 each)
    local port, peer port (2 each)
    local initial TSN, peer initial TSN, peer a_rwnd (4 each)
    outbound streams, inbound streams (2 each), peer address count (1)
    peer addresses: family(1: 4 or 6) + 4 or 16 bytes each

The MAC key changes every ``cookie_key_period``: key(epoch) = HMAC-SHA256(secret, epoch), the
epoch being the cookie's creation time divided by the period; cookies of the current and the
previous epoch are accepted. Nothing in the cookie is secret (it is not encrypted, §5.1.3).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import struct
from dataclasses import dataclass

from rserpool.sctp.params import IPAddress

_VERSION = 1
_FIXED = struct.Struct("!BIQIIIIIHHIIIHHB")
_MAC_SIZE = 32


@dataclass(frozen=True, slots=True)
class CookieContents:
    """What the cookie's maker (the INIT's receiver) needs to create the association."""

    created: int  # ms, the maker's clock
    lifespan: int  # ms
    local_tag: int  # the maker's Initiate Tag (in its INIT ACK)
    peer_tag: int  # the INIT's Initiate Tag
    local_tie_tag: int
    peer_tie_tag: int
    local_port: int
    peer_port: int
    local_initial_tsn: int
    peer_initial_tsn: int
    peer_a_rwnd: int
    outbound_streams: int  # negotiated: min(our OS, the peer's MIS)
    inbound_streams: int  # negotiated: min(the peer's OS, our MIS)
    peer_addresses: tuple[IPAddress, ...]  # from the INIT's parameters and its source

    def expires(self) -> int:
        return self.created + self.lifespan


class CookieJar:
    """Signs and checks State Cookies with keys derived from one secret."""

    def __init__(self, secret: bytes, key_period: int) -> None:
        if len(secret) < 16:
            raise ValueError("the cookie secret needs at least 16 bytes")
        self._secret = secret
        self._period = max(1, key_period)

    def _key(self, epoch: int) -> bytes:
        return hmac.new(self._secret, struct.pack("!Q", epoch), hashlib.sha256).digest()

    def make(self, contents: CookieContents) -> bytes:
        c = contents
        epoch = (c.created // self._period) & 0xFFFFFFFF
        body = _FIXED.pack(
            _VERSION,
            epoch,
            c.created,
            c.lifespan,
            c.local_tag,
            c.peer_tag,
            c.local_tie_tag,
            c.peer_tie_tag,
            c.local_port,
            c.peer_port,
            c.local_initial_tsn,
            c.peer_initial_tsn,
            c.peer_a_rwnd,
            c.outbound_streams,
            c.inbound_streams,
            len(c.peer_addresses),
        ) + b"".join(bytes([a.version]) + a.packed for a in c.peer_addresses)
        return body + hmac.new(self._key(epoch), body, hashlib.sha256).digest()

    def open(self, cookie: bytes, now: int) -> CookieContents | None:
        """The contents of an authentic cookie (stale or not), or None (§5.1.5 steps 1-2)."""
        if len(cookie) < _FIXED.size + _MAC_SIZE:
            return None
        body, mac = cookie[:-_MAC_SIZE], cookie[-_MAC_SIZE:]
        fields = _FIXED.unpack_from(body, 0)
        version, epoch = fields[0], fields[1]
        current = (now // self._period) & 0xFFFFFFFF
        if version != _VERSION or epoch not in (current, (current - 1) & 0xFFFFFFFF):
            return None  # a key we no longer have: discard silently (§5.1.5 step 1)
        expected = hmac.new(self._key(epoch), body, hashlib.sha256).digest()
        if not hmac.compare_digest(mac, expected):
            return None
        addresses: list[IPAddress] = []
        pos = _FIXED.size
        for _ in range(fields[-1]):
            family = body[pos]
            size = 4 if family == 4 else 16
            addresses.append(ipaddress.ip_address(body[pos + 1 : pos + 1 + size]))
            pos += 1 + size
        (created, lifespan, ltag, ptag, ltie, ptie, lport, pport, ltsn, ptsn, rwnd, os_, is_) = (
            fields[2:-1]
        )
        return CookieContents(
            created,
            lifespan,
            ltag,
            ptag,
            ltie,
            ptie,
            lport,
            pport,
            ltsn,
            ptsn,
            rwnd,
            os_,
            is_,
            peer_addresses=tuple(addresses),
        )
