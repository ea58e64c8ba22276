"""Synthetic captures for the reader's tests, built with dpkt's packet classes and writers.

A test describes frames as IP packets (:func:`sctp`, :func:`udp`); :func:`capture` wraps each
in a link layer (Ethernet, SLL, SLL2 or none) and writes a pcap or pcapng file in memory.
"""

from __future__ import annotations

import io
import ipaddress
import struct
from collections.abc import Sequence
from typing import Any

import dpkt

from rserpool.wire import Message, encode_message, ppid_of

ETHERNET, RAW, SLL, SLL2 = 1, 101, 113, 276
B, E, BE = 0x02, 0x01, 0x03  # DATA chunk flags: beginning, ending, both

A4, B4 = "192.0.2.1", "192.0.2.2"
A6, B6 = "2001:db8::1", "2001:db8::2"


def data_chunk(
    payload: bytes | Message,
    tsn: int,
    ppid: int | None = None,
    flags: int = BE,
    stream: int = 0,
    ssn: int = 0,
) -> bytes:
    """One SCTP DATA chunk (RFC 9260 §3.3.1), padded; a Message is encoded, PPID from it."""
    if not isinstance(payload, bytes):
        ppid = ppid_of(payload) if ppid is None else ppid
        payload = encode_message(payload)
    assert ppid is not None
    header = struct.pack("!BBHIHHI", 0, flags, 16 + len(payload), tsn, stream, ssn, ppid)
    return header + payload + bytes(-len(payload) % 4)


def fragments(message: Message, tsn: int, sizes: Sequence[int], stream: int = 0) -> list[bytes]:
    """``message`` cut into DATA chunks of the given sizes (the last takes the rest)."""
    data, ppid = encode_message(message), ppid_of(message)
    cuts, pos = [], 0
    for size in sizes:
        cuts.append(data[pos : pos + size])
        pos += size
    cuts.append(data[pos:])
    chunks = []
    for i, part in enumerate(cuts):
        flags = (B if i == 0 else 0) | (E if i == len(cuts) - 1 else 0)
        chunks.append(data_chunk(part, (tsn + i) & 0xFFFFFFFF, ppid, flags, stream))
    return chunks


def sack() -> bytes:
    """A SACK chunk (type 3): cumulative TSN ack, window, no gap blocks: not DATA, ignored."""
    return struct.pack("!BBHIIHH", 3, 0, 16, 0, 65536, 0, 0)


def _ip(src: str, dst: str, proto: int, payload: Any) -> Any:
    if ipaddress.ip_address(src).version == 6:
        packet = dpkt.ip6.IP6(
            src=ipaddress.ip_address(src).packed,
            dst=ipaddress.ip_address(dst).packed,
            nxt=proto,
            hlim=64,
            data=payload,
        )
        packet.plen = len(bytes(payload))
        return packet
    return dpkt.ip.IP(
        src=ipaddress.ip_address(src).packed,
        dst=ipaddress.ip_address(dst).packed,
        p=proto,
        data=payload,
    )


def sctp(
    chunks: Sequence[bytes],
    src: str = A4,
    dst: str = B4,
    sport: int = 40000,
    dport: int = 3863,
    vtag: int = 0x01020304,
) -> Any:
    """An IP packet holding one SCTP packet with these chunks, byte for byte (dpkt's own SCTP
    class would drop the padding of a control chunk of odd length), CRC32c computed."""
    header = struct.pack("!HHI", sport, dport, vtag)
    body = b"".join(chunks)
    crc = dpkt.crc32c.add(dpkt.crc32c.add(0xFFFFFFFF, header + bytes(4)), body)
    packet = header + struct.pack("!I", dpkt.crc32c.done(crc)) + body
    return _ip(src, dst, dpkt.ip.IP_PROTO_SCTP, packet)


def udp(
    payload: bytes | Message,
    src: str = A4,
    dst: str = "239.0.0.50",
    sport: int = 3863,
    dport: int = 3863,
) -> Any:
    data = payload if isinstance(payload, bytes) else encode_message(payload)
    datagram = dpkt.udp.UDP(sport=sport, dport=dport, data=data)
    datagram.ulen = 8 + len(data)
    return _ip(src, dst, dpkt.ip.IP_PROTO_UDP, datagram)


def _link(link_type: int, ip: Any) -> bytes:
    ethertype = 0x86DD if isinstance(ip, dpkt.ip6.IP6) else 0x0800
    if link_type == ETHERNET:
        frame = dpkt.ethernet.Ethernet(
            src=b"\x02\x00\x00\x00\x00\x01", dst=b"\x02\x00\x00\x00\x00\x02", type=ethertype,
            data=ip,
        )  # fmt: skip
        return bytes(frame)
    if link_type == SLL:
        return bytes(dpkt.sll.SLL(ethtype=ethertype, data=ip))
    if link_type == SLL2:
        return bytes(dpkt.sll2.SLL2(ethtype=ethertype, intindex=2, data=ip))
    return bytes(ip)


def capture(
    packets: Sequence[Any], link_type: int = SLL, ng: bool = True, nano: bool = False
) -> bytes:
    """A pcapng (or pcap) file: one frame per IP packet, 10 ms apart."""
    out = io.BytesIO()
    if ng:
        writer: Any = dpkt.pcapng.Writer(out, snaplen=65535, linktype=link_type)
    else:
        writer = dpkt.pcap.Writer(out, snaplen=65535, linktype=link_type, nano=nano)
    for i, packet in enumerate(packets):
        writer.writepkt(_link(link_type, packet), ts=1700000000 + i / 100)
    return out.getvalue()


def sctp_over_udp(
    chunks: Sequence[bytes],
    src: str = A4,
    dst: str = B4,
    sport: int = 40000,
    dport: int = 3863,
    vtag: int = 0x01020304,
    udp_ports: tuple[int, int] = (9899, 9899),
) -> Any:
    """An IP packet holding a UDP datagram that carries one SCTP packet (RFC 6951): the SCTP
    ports are ``sport`` and ``dport``, the UDP ports ``udp_ports``."""
    packet = sctp(chunks, src, dst, sport, dport, vtag).data
    datagram = dpkt.udp.UDP(sport=udp_ports[0], dport=udp_ports[1], data=bytes(packet))
    datagram.ulen = 8 + len(datagram.data)
    return _ip(src, dst, dpkt.ip.IP_PROTO_UDP, datagram)
