"""From capture bytes to the UDP datagrams and SCTP DATA chunks that may carry ASAP or ENRP.

The file formats, link layers, IP and UDP headers are parsed by dpkt, SCTP packets by this
module, which chooses the parsers and picks out what RSerPool uses:

* **File**: pcap (``a1b2c3d4`` and its byte-swapped and nanosecond variants) or pcapng
  (``0a0d0d0a``). tshark writes pcapng.
* **Link layer**, by the file's link type: 1 Ethernet (a capture on one interface), 113 Linux
  cooked SLL and 276 SLL2 (``-i any``: the pseudo-interface has no Ethernet header, so libpcap
  writes a "cooked" header with the EtherType instead; tshark writes SLL, tcpdump SLL2), 101
  and 228/229 raw IP. pcapng files are read with the link type of their first interface, as
  tshark writes them (one interface, or ``any``).
* **IP**: v4 and v6. Fragmented IP packets are skipped (RSerPool messages fit the path MTU:
  SCTP fragments user messages itself, below).
* **Transport**: UDP datagrams to or from port 3863 (ASAP: Server Announce) or 9901 (ENRP:
  multicast Presence); SCTP packets, split into their chunks (by us: dpkt misreads a packet
  whose control chunk has an odd length). A DATA chunk (RFC 9260 §3.3.1) is ``type 0,
  flags (U, B, E), length, TSN, stream id, stream sequence number, PPID``, then the user
  data.
  A DATA chunk is RSerPool's if its PPID is 11 (ASAP) or 12 (ENRP), or 0 between a port and
  3863 or 9901 (PPID 0 means "unspecified": Wireshark then goes by the port, and so do we).
* **SCTP over UDP** (RFC 6951): a UDP datagram to or from the encapsulation port (9899, the
  IANA "sctp-tunneling" port, unless told another) carries a whole SCTP packet, common header
  and chunks, as its payload; only the checksum differs from SCTP over IP (it is computed as
  usual, the UDP checksum covers it again). Its DATA chunks are read exactly as above; the
  addresses are the IP header's and the ports the SCTP header's (the ports ASAP and ENRP
  talk about), and the packet keeps the UDP ports in ``udp_ports``. This is what
  ``--transport udp`` (:mod:`rserpool.transport.userland`) sends, and Linux with
  ``net.sctp.udp_port`` set. Wireshark decodes UDP port 9899 as SCTP by default too.

Problems are reported, never raised: :func:`scan` returns what it could read and a sentence
about what stopped it.
"""

from __future__ import annotations

import io
import ipaddress
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import dpkt

from rserpool.errors import WireError
from rserpool.wire.constants import ASAP_PORT, ENRP_PORT, PPID

#: The UDP port of SCTP over UDP (RFC 6951 §5.1: IANA "sctp-tunneling").
SCTP_UDP_PORT = 9899
#: Implied PPIDs: UDP has none, and SCTP's PPID 0 means "look at the port".
PORT_PPID = {ASAP_PORT: PPID.ASAP, ENRP_PORT: PPID.ENRP}
RSERPOOL_PPIDS = frozenset({PPID.ASAP, PPID.ENRP})

_COMMON_HEADER = struct.Struct("!HHII")  # source port, destination port, tag, checksum
_CHUNK_HEADER = struct.Struct("!BBH")  # type, flags, length
_DATA_HEADER = struct.Struct("!IHHI")  # TSN, stream id, stream sequence number, PPID
_PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
_PCAP_MAGICS = frozenset(
    struct.pack(order + "I", magic)
    for order in "<>"
    for magic in (dpkt.pcap.TCPDUMP_MAGIC, dpkt.pcap.TCPDUMP_MAGIC_NANO)
)
#: What dpkt raises for bytes it cannot parse (it has no single error type of its own).
_DPKT_ERRORS = (dpkt.Error, ValueError, struct.error, IndexError, KeyError, TypeError)


def _raw_ip(buf: bytes) -> Any:
    return dpkt.ip6.IP6(buf) if buf[:1] and buf[0] >> 4 == 6 else dpkt.ip.IP(buf)


LINK_LAYERS: dict[int, Callable[[bytes], Any]] = {
    1: dpkt.ethernet.Ethernet,  # LINKTYPE_ETHERNET
    101: _raw_ip,  # LINKTYPE_RAW
    113: dpkt.sll.SLL,  # LINKTYPE_LINUX_SLL
    228: dpkt.ip.IP,  # LINKTYPE_IPV4
    229: dpkt.ip6.IP6,  # LINKTYPE_IPV6
    276: dpkt.sll2.SLL2,  # LINKTYPE_LINUX_SLL2
}


class CaptureFormatError(WireError):
    """The bytes are not a capture this module can read (the reason is the message)."""


@dataclass(frozen=True, slots=True)
class DataChunk:
    """One SCTP DATA chunk that carries (part of) an ASAP or ENRP message."""

    tsn: int
    stream: int
    ssn: int
    ppid: int  # 11 or 12, PPID 0 already resolved by port
    flags: int  # bit 0 E (ending fragment), bit 1 B (beginning), bit 2 U (unordered)
    data: bytes  # the user data, without the chunk's padding
    length: int  # the user data's length as the chunk header gives it

    @property
    def begins(self) -> bool:
        return bool(self.flags & 0x02)

    @property
    def ends(self) -> bool:
        return bool(self.flags & 0x01)

    @property
    def cut_short(self) -> bool:
        """The capture holds less of the chunk than its length says (a small snap length)."""
        return len(self.data) < self.length


@dataclass(frozen=True, slots=True)
class Packet:
    """One frame's UDP datagram or SCTP packet, reduced to what RSerPool needs."""

    frame: int  # 1-based, as tshark numbers frames
    time: float  # seconds since the first frame
    transport: str  # "sctp" or "udp"
    src: tuple[str, int]
    dst: tuple[str, int]
    vtag: int = 0  # SCTP verification tag: with the ports it names one association direction
    chunks: tuple[DataChunk, ...] = ()  # SCTP: the ASAP/ENRP DATA chunks, in packet order
    ppid: int = 0  # UDP: implied by the port
    payload: bytes = b""  # UDP
    udp_ports: tuple[int, int] | None = None  # SCTP over UDP: the UDP source and dest port


@dataclass
class Scan:
    """What :func:`scan` read: the packets of interest and counts of the rest."""

    link_type: int = -1
    frames: int = 0
    packets: list[Packet] = field(default_factory=list)
    unparsed: int = 0  # IP frames whose UDP or SCTP header dpkt could not parse
    fragments: int = 0  # IP fragments, skipped
    problem: str | None = None  # why reading stopped early (truncated or corrupt file)


class _Source(io.BytesIO):
    """The capture bytes as a file for dpkt's readers, noticing reads that come up short.

    dpkt stops quietly at a short read (and hands out a short last packet of a cut pcap), so a
    truncated file would look complete. A clean end of file is exactly one empty read, where
    the next record would start; anything else short means the file was cut.
    """

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.short_reads = 0
        self.partial = False

    def read(self, size: int | None = -1, /) -> bytes:
        chunk = super().read(size)
        if size is not None and size >= 0 and len(chunk) < size:
            self.short_reads += 1
            self.partial = self.partial or bool(chunk)
        return chunk

    @property
    def cut(self) -> bool:
        return self.partial or self.short_reads > 1


def _open(source: _Source) -> Any:
    magic = source.getbuffer()[:4].tobytes()
    if magic == _PCAPNG_MAGIC:
        return dpkt.pcapng.Reader(source)
    if magic in _PCAP_MAGICS:
        return dpkt.pcap.Reader(source)
    raise CaptureFormatError("not a pcap or pcapng file")


def scan(data: bytes, udp_port: int | None = SCTP_UDP_PORT) -> Scan:
    """Read every frame of a capture; keep the UDP and SCTP packets that carry RSerPool.

    UDP datagrams to or from ``udp_port`` are read as SCTP over UDP (None: no such port)."""
    result = Scan()
    source = _Source(bytes(data))
    try:
        reader = _open(source)
        result.link_type = int(reader.datalink())
    except CaptureFormatError as exc:
        result.problem = str(exc)
        return result
    except _DPKT_ERRORS as exc:
        result.problem = _cut_or_corrupt(source, ("its header", "file header"), exc)
        return result
    link_layer = LINK_LAYERS.get(result.link_type)
    if link_layer is None:
        result.problem = f"link type {result.link_type} is not supported"
        return result
    first: float | None = None
    frames = iter(reader)
    while True:
        try:
            stamp, buf = next(frames)
        except StopIteration:
            break
        except _DPKT_ERRORS as exc:
            where = f"frame {result.frames + 1}"
            result.problem = _cut_or_corrupt(source, (where, where), exc)
            return result
        if source.cut:
            break  # this frame is the cut one: leave it out
        result.frames += 1
        seconds = float(stamp) if isinstance(stamp, float | int | Decimal) else 0.0
        first = seconds if first is None else first
        try:
            packet = _packet(link_layer(bytes(buf)), result, seconds - first, udp_port)
        except _DPKT_ERRORS:
            result.unparsed += 1
            continue
        if packet is not None:
            result.packets.append(packet)
    if source.cut:
        result.problem = f"the file is cut short in frame {result.frames + 1}"
    return result


def _cut_or_corrupt(source: _Source, where: tuple[str, str], exc: Exception) -> str:
    """``where``: how to name the place after "cut short in" and after "corrupt"."""
    if source.cut or isinstance(exc, dpkt.NeedData):
        return f"the file is cut short in {where[0]}"
    return f"corrupt {where[1]}: {str(exc) or type(exc).__name__}"


def _packet(link: Any, result: Scan, time: float, udp_port: int | None) -> Packet | None:
    ip = link if isinstance(link, dpkt.ip.IP | dpkt.ip6.IP6) else getattr(link, "data", None)
    if isinstance(ip, dpkt.ip.IP):
        if ip.mf or ip.offset:
            result.fragments += 1
            return None
    elif isinstance(ip, dpkt.ip6.IP6):
        if dpkt.ip.IP_PROTO_FRAGMENT in ip.extension_hdrs:
            result.fragments += 1
            return None
    else:
        return None  # not IP (ARP, ...)
    src, dst = _address(ip.src), _address(ip.dst)
    payload = ip.data
    udp_ports: tuple[int, int] | None = None
    if ip.p == dpkt.ip.IP_PROTO_SCTP:
        # dpkt's parse, when it worked, gives back the very bytes it parsed
        sctp = payload if isinstance(payload, bytes) else bytes(payload)
    elif isinstance(payload, dpkt.udp.UDP) and udp_port in (payload.sport, payload.dport):
        udp_ports = (payload.sport, payload.dport)
        sctp = bytes(payload.data)
    elif isinstance(payload, dpkt.udp.UDP):
        ppid = PORT_PPID.get(payload.dport) or PORT_PPID.get(payload.sport)
        if ppid is None:
            return None
        return Packet(
            result.frames, time, "udp", (src, payload.sport), (dst, payload.dport),
            ppid=ppid, payload=bytes(payload.data),
        )  # fmt: skip
    else:
        if ip.p == dpkt.ip.IP_PROTO_UDP:
            result.unparsed += 1  # dpkt leaves the bytes as they are when the header is bad
        return None
    if len(sctp) < _COMMON_HEADER.size:
        result.unparsed += 1
        return None
    sport, dport, vtag, _checksum = _COMMON_HEADER.unpack_from(sctp)
    chunks = tuple(_data_chunks(sctp, (sport, dport)))
    if not chunks:
        return None
    return Packet(
        result.frames, time, "sctp", (src, sport), (dst, dport),
        vtag=vtag, chunks=chunks, udp_ports=udp_ports,
    )  # fmt: skip


def _address(raw: bytes) -> str:
    return str(ipaddress.ip_address(bytes(raw)))


def _data_chunks(sctp: bytes, ports: tuple[int, int]) -> Iterator[DataChunk]:
    """The RSerPool DATA chunks of an SCTP packet (RFC 9260 §3.2): each chunk is ``type,
    flags, length`` and a value, padded to 4 bytes; the length leaves the padding out.

    We walk the chunks ourselves: dpkt pads only DATA chunks, so an odd-length control chunk
    (a State Cookie of 91 bytes, say) shifts every chunk after it. A chunk longer than what
    is left (a small snap length) keeps what there is; a length under 4 ends the packet."""
    pos = _COMMON_HEADER.size
    while pos + 4 <= len(sctp):
        kind, flags, length = _CHUNK_HEADER.unpack_from(sctp, pos)
        if length < _CHUNK_HEADER.size:
            return
        value = sctp[pos + 4 : pos + length]
        pos += (length + 3) & ~3
        if kind != dpkt.sctp.DATA or len(value) < _DATA_HEADER.size:
            continue
        tsn, stream, ssn, ppid = _DATA_HEADER.unpack_from(value)
        if ppid == 0:
            ppid = PORT_PPID.get(ports[1]) or PORT_PPID.get(ports[0]) or 0
        if ppid in RSERPOOL_PPIDS:
            declared = length - _CHUNK_HEADER.size - _DATA_HEADER.size
            yield DataChunk(tsn, stream, ssn, ppid, flags, value[12:], declared)
