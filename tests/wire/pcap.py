"""A minimal pcap writer: raw IPv4 + SCTP common header + one DATA chunk per message, or
raw IPv4 + UDP + one datagram."""

from __future__ import annotations

import struct


def _crc32c_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for b in data:
        crc = _TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _ipv4_checksum(header: bytes) -> int:
    total: int = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def sctp_packet(payload: bytes, ppid: int, port: int, tsn: int) -> bytes:
    """IPv4 (10.0.0.1 → 10.0.0.2) / SCTP ``port → port`` / DATA(B,E) carrying ``payload``."""
    chunk = struct.pack("!BBHIHHI", 0, 0x03, 16 + len(payload), tsn, 0, tsn & 0xFFFF, ppid)
    chunk += payload + bytes(-len(payload) & 3)
    common = struct.pack("!HHII", port, port, 0x01020304, 0)
    crc = crc32c(common + chunk)
    sctp = common[:8] + struct.pack("<I", crc) + chunk  # RFC 9260 appendix: CRC32c little-end
    return _ipv4(132, tsn, sctp)


def udp_packet(payload: bytes, port: int, ident: int) -> bytes:
    """IPv4 (10.0.0.1 → 10.0.0.2) / UDP ``port → port`` carrying ``payload`` (checksum 0:
    none, as IPv4 allows)."""
    udp = struct.pack("!HHHH", port, port, 8 + len(payload), 0) + payload
    return _ipv4(17, ident, udp)


def _ipv4(protocol: int, ident: int, payload: bytes) -> bytes:
    """An IPv4 header (10.0.0.1 → 10.0.0.2, DF, TTL 64, its checksum) before ``payload``."""
    ip = struct.pack(
        "!BBHHHBBH4s4s",
        0x45, 0, 20 + len(payload), ident & 0xFFFF, 0x4000, 64, protocol, 0,
        bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]),
    )  # fmt: skip
    ip = ip[:10] + struct.pack("!H", _ipv4_checksum(ip)) + ip[12:]
    return ip + payload


def write_pcap(path: str, packets: list[bytes]) -> None:
    """Classic pcap, LINKTYPE_RAW (101): each record is a bare IPv4 packet."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))
        for i, packet in enumerate(packets):
            f.write(struct.pack("<IIII", 1700000000 + i, 0, len(packet), len(packet)))
            f.write(packet)
