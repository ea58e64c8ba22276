"""Read a packet capture and decode every ASAP and ENRP message in it, without tshark.

Sans-IO, like :mod:`rserpool.wire`: :func:`read_capture` takes the bytes of a pcap or pcapng
file and returns a :class:`DecodedCapture`, one :class:`Record` per ASAP/ENRP message in
capture order; it raises only :class:`CaptureError`. ``rserpool decode FILE`` prints it.

Where the messages are (RFC 5352 §8.3, RFC 5353 §5.4):

* **SCTP**, PPID 11 (ASAP) or 12 (ENRP): registrations, handle resolutions, keep-alives,
  everything between registrars. SCTP bundles several chunks into one packet and fragments a
  big user message over several DATA chunks; :mod:`rserpool.capture.reassembly` puts the
  messages back together and drops retransmitted copies, as the receiver does.
* **UDP** port 3863: ASAP Server Announce (a registrar's multicast "I am here"); port 9901:
  ENRP Presence sent by multicast.
* **SCTP over UDP** (RFC 6951), UDP port 9899 by default (``udp_port``): each datagram holds a
  whole SCTP packet, read as above (reassembled, retransmissions dropped). What
  ``--transport udp`` sends: ``tshark -i lo -f "udp port 9899"`` captures a whole system
  running on one machine's loopback. Its records say ``sctp`` with ``udp_ports`` set.

The pcap/pcapng files, link layers, IP, UDP and SCTP headers are parsed by **dpkt**
(:mod:`rserpool.capture.frames`). dpkt and scapy both read what tshark writes, Linux cooked
SLL and SLL2 (link types 113 and 276, ``-i any``) included; dpkt is by far the lighter of the
two (pure Python without dependencies: about 2 MB and 0.07 s to import, against scapy's 24 MB
and 0.3 s for its SCTP layer alone), and it is enough: we need its parsers, not scapy's
packet crafting, sniffing or sending.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from rserpool.capture.frames import SCTP_UDP_PORT, Packet, scan
from rserpool.capture.reassembly import Reassembler, UserMessage
from rserpool.errors import WireError
from rserpool.wire.codec import decode_message_untrusted
from rserpool.wire.constants import PPID
from rserpool.wire.errors import DecodeError
from rserpool.wire.message import Message

__all__ = ["SCTP_UDP_PORT", "CaptureError", "DecodedCapture", "Record", "read_capture"]


@dataclass(frozen=True, slots=True)
class Record:
    """One ASAP or ENRP message found in a capture.

    Exactly one of ``message`` (decoded) and ``error`` (why it could not be) is set. An
    ``incomplete`` record holds the fragments of a message whose other fragments the capture
    lacks; its ``error`` says so.
    """

    frame: int  # the frame that completed the message (tshark shows it there too)
    time: float  # seconds since the first frame of the capture
    transport: str  # "sctp" or "udp"
    src: tuple[str, int]  # the IP address and the SCTP (or UDP) port
    dst: tuple[str, int]
    ppid: int  # 11 ASAP or 12 ENRP (for UDP and SCTP PPID 0: implied by the port)
    data: bytes  # the whole user message (UDP payload), padding included
    chunks: int  # SCTP DATA chunks it came in (1: not fragmented; 0: UDP)
    message: Message | None
    error: str | None = None
    incomplete: bool = False
    udp_ports: tuple[int, int] | None = None  # SCTP over UDP: the UDP ports that carried it
    #: SCTP: the verification tag (the receiver's); with the ports it names one direction of
    #: one association, whichever addresses of a multi-homed peer the packet took. UDP: 0.
    vtag: int = 0

    @property
    def protocol(self) -> str:
        """``"asap"`` or ``"enrp"``."""
        return PPID(self.ppid).name.lower()

    @property
    def type(self) -> int:
        """The message type byte (-1 when there is none)."""
        return self.data[0] if self.data else -1

    @property
    def name(self) -> str:
        """``"ASAP Registration"``, as tshark names messages; ``"ASAP message"`` if undecoded."""
        if self.message is not None:
            return f"{self.message.PPID.name} {self.message.NAME}"
        return f"{PPID(self.ppid).name} message"

    @property
    def undecodable(self) -> bool:
        """A whole message that the codec rejects (the capture itself is fine)."""
        return self.message is None and not self.incomplete

    def where(self) -> str:
        """``sctp 192.0.2.2:38022 -> 192.0.2.1:3863`` (``sctp/udp`` for SCTP over UDP)."""
        transport = "sctp/udp" if self.udp_ports is not None else self.transport
        return f"{transport} {_endpoint(self.src)} -> {_endpoint(self.dst)}"


def _endpoint(endpoint: tuple[str, int]) -> str:
    address, port = endpoint
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


@dataclass(frozen=True, slots=True)
class DecodedCapture:
    """Every ASAP/ENRP message of a capture, and what else the reader saw."""

    records: tuple[Record, ...]
    frames: int
    link_type: int
    duplicates: int = 0  # retransmitted DATA chunks dropped
    duplicate_frames: tuple[int, ...] = ()
    unparsed: int = 0  # frames whose UDP/SCTP header could not be parsed
    fragments: int = 0  # fragmented IP packets, skipped

    @property
    def messages(self) -> list[Record]:
        """The whole messages, decodable or not (what tshark would count)."""
        return [r for r in self.records if not r.incomplete]

    @property
    def undecodable(self) -> list[Record]:
        return [r for r in self.records if r.undecodable]

    @property
    def incomplete(self) -> list[Record]:
        return [r for r in self.records if r.incomplete]


class CaptureError(WireError):
    """The capture could not be read (or not to its end); the only error of this package.

    ``partial`` holds what was read before the problem, when the file was readable up to a
    point (a capture cut short by a crash, say); None when nothing could be read.
    """

    def __init__(self, reason: str, partial: DecodedCapture | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.partial = partial


def read_capture(data: bytes, udp_port: int | None = SCTP_UDP_PORT) -> DecodedCapture:
    """Every ASAP/ENRP message in a pcap or pcapng capture, in order; raises only
    :class:`CaptureError` (for a file that is not a capture, or is cut short or corrupt).

    UDP datagrams to or from ``udp_port`` are SCTP over UDP (None: read no UDP as SCTP)."""
    scanned = scan(data, udp_port)
    reassembler = Reassembler()
    records: list[Record] = []
    for packet in scanned.packets:
        if packet.transport == "udp":
            records.append(_record(packet, packet.ppid, packet.payload, 0))
            continue
        for chunk in packet.chunks:
            if chunk.cut_short:
                reason = f"the capture holds {len(chunk.data)} of the chunk's {chunk.length} bytes"
                records.append(_record(packet, chunk.ppid, chunk.data, 1, error=reason))
                continue
            message = reassembler.add(packet, chunk)
            if message is not None:
                records.append(_record(packet, message.ppid, message.data, len(message.chunks)))
    for left in reassembler.leftovers():
        records.append(_leftover(left))
    records.sort(key=lambda r: r.frame)  # stable: leftovers go after their frame's messages
    decoded = DecodedCapture(
        records=tuple(records),
        frames=scanned.frames,
        link_type=scanned.link_type,
        duplicates=reassembler.duplicates,
        duplicate_frames=tuple(reassembler.duplicate_frames),
        unparsed=scanned.unparsed,
        fragments=scanned.fragments,
    )
    if scanned.problem is not None:
        raise CaptureError(scanned.problem, decoded if scanned.frames else None)
    return decoded


def _record(
    packet: Packet, ppid: int, data: bytes, chunks: int, error: str | None = None
) -> Record:
    message: Message | None = None
    if error is None:
        try:
            message = decode_message_untrusted(ppid, data)
        except DecodeError as exc:
            error = str(exc)  # the reason and the offset where it was found
    return Record(
        frame=packet.frame,
        time=packet.time,
        transport=packet.transport,
        src=packet.src,
        dst=packet.dst,
        ppid=ppid,
        data=data,
        chunks=chunks,
        message=message,
        error=error,
        udp_ports=packet.udp_ports,
        vtag=packet.vtag,
    )


def _leftover(left: UserMessage) -> Record:
    first, last = left.tsns
    count = len(left.chunks)
    reason = (
        f"only {count} fragment(s) captured (TSN {first:#x}..{last:#x}, stream {left.stream}): "
        f"the capture started or ended in the middle of this message, or missed a packet"
    )
    record = _record(left.packet, left.ppid, left.data, count, error=reason)
    return dataclasses.replace(record, incomplete=True)
