"""Capture with tshark in a test host, and decode a capture into ASAP/ENRP messages.

SCTP bundles chunks, so one frame can carry several messages: decoding works per DATA chunk
(from tshark's PDML tree, matching each ASAP/ENRP protocol node to the DATA chunk it sits in)
and per UDP datagram (Server Announce, multicast Presence). Malformed counts every
``_ws.malformed`` node, i.e. every chunk or datagram the dissectors choked on.

:meth:`Capture.stop` also reads the file with our own reader (:mod:`rserpool.capture`, which
``rserpool decode`` uses) and fails unless it finds the same messages in the same frames, and
none undecodable: every guest test that captures checks that reader against tshark.

SCTP over UDP (RFC 6951, ``--transport udp``) is captured as UDP datagrams to and from port
9899 (``SCTP_UDP_FILTER``, on ``lo`` when the whole system runs on loopback). Wireshark
decodes UDP port 9899 as SCTP by default; :func:`decode` says so explicitly (``-d
udp.port==PORT,sctp``), so another encapsulation port is decoded as well.
"""

from __future__ import annotations

import json
import subprocess
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from interop.processes import Process
from interop.topology import Host

if TYPE_CHECKING:
    import rserpool.capture

RSERPOOL_FILTER = "sctp or udp port 3863 or udp port 9901"
SCTP_UDP_PORT = 9899
SCTP_UDP_FILTER = f"udp port {SCTP_UDP_PORT}"
UDP_PPID = {3863: 11, 9901: 12}  # announces: the PPID is implied by the port


class CaptureError(RuntimeError):
    pass


class Capture:
    """``tshark -i any`` (or another ``interface``) in one host, written to ``path``
    (pcapng); stop() with SIGTERM. ``udp_port``: where SCTP over UDP is decoded."""

    def __init__(
        self,
        host: Host,
        path: Path,
        capture_filter: str = RSERPOOL_FILTER,
        *,
        interface: str = "any",
        udp_port: int = SCTP_UDP_PORT,
    ) -> None:
        self.path = path
        self.udp_port = udp_port
        #: after :meth:`stop`: the file as :mod:`rserpool.capture` reads it (``rserpool decode``)
        self.read: rserpool.capture.DecodedCapture | None = None
        argv = ["tshark", "-i", interface, "-f", capture_filter, "-w", str(path), "-q"]
        self.process = Process(host, argv, path.with_suffix(".tshark.log"))

    def start(self, timeout: float = 90.0) -> Capture:
        """Wait until tshark really captures (7-20 s under TCG)."""
        self.process.wait_for("Capture started", timeout)
        return self

    def stop(self, settle: float = 0.0) -> DecodedCapture:
        """Stop capturing and read the file. ``settle``: seconds to wait first, so that the
        last packets are in: dumpcap reads the interface with a 250 ms timeout, and what the
        kernel still holds for it when SIGTERM comes is lost."""
        time.sleep(settle)
        # TERM, not INT: background jobs of a non-interactive shell ignore SIGINT.
        self.process.stop()
        decoded = decode(self.path, self.udp_port)
        self.read = cross_check(self.path, decoded, self.udp_port)
        return decoded


@dataclass(frozen=True)
class CapturedMessage:
    frame: int
    protocol: str  # "asap" or "enrp"
    type: int  # message type in that protocol
    name: str  # tshark's name, e.g. "ASAP Registration"
    transport: str  # "sctp" or "udp"
    ppid: int
    src: tuple[str, int]
    dst: tuple[str, int]
    raw: bytes  # the whole SCTP user message or UDP payload, trailing padding included

    def __str__(self) -> str:
        return (
            f"#{self.frame} {self.src[0]}:{self.src[1]} -> {self.dst[0]}:{self.dst[1]} "
            f"{self.transport}/ppid {self.ppid} {self.name}"
        )


@dataclass(frozen=True)
class DecodedCapture:
    messages: list[CapturedMessage]
    malformed: int

    def names(self) -> list[str]:
        return [m.name for m in self.messages]

    def of_type(self, protocol: str, message_type: int) -> list[CapturedMessage]:
        return [m for m in self.messages if (m.protocol, m.type) == (protocol, message_type)]


def cross_check(
    path: Path, decoded: DecodedCapture, udp_port: int = SCTP_UDP_PORT
) -> rserpool.capture.DecodedCapture:
    """What :func:`rserpool.capture.read_capture` finds in ``path``; raise
    :class:`CaptureError` unless it finds the messages tshark found (same frames, protocols
    and types, in order) and decodes them all."""
    from rserpool.capture import CaptureError as ReaderError
    from rserpool.capture import read_capture

    try:
        ours = read_capture(path.read_bytes(), udp_port)
    except ReaderError as exc:
        raise CaptureError(f"rserpool.capture cannot read {path}: {exc}") from exc
    theirs = [(m.frame, m.protocol, m.type) for m in decoded.messages]
    mine = [(r.frame, r.protocol, r.type) for r in ours.messages]
    if mine != theirs:
        only_theirs = sorted(set(theirs) - set(mine))[:5]
        only_mine = sorted(set(mine) - set(theirs))[:5]
        raise CaptureError(
            f"{path}: tshark finds {len(theirs)} ASAP/ENRP messages, rserpool.capture "
            f"{len(mine)}; only tshark: {only_theirs}, only ours: {only_mine}"
        )
    if ours.undecodable:
        bad = ours.undecodable[0]
        raise CaptureError(
            f"{path}: {len(ours.undecodable)} message(s) tshark dissects do not decode, first "
            f"in frame {bad.frame}: {bad.error}"
        )
    return ours


def _tshark(*args: str) -> str:
    done = subprocess.run(
        ["tshark", *args], capture_output=True, text=True, check=False, timeout=300
    )
    if done.returncode != 0:
        raise CaptureError(f"tshark {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def _frame_bytes(path: Path, decode_as: list[str]) -> dict[int, bytes]:
    out = _tshark("-r", str(path), *decode_as, "-Y", "asap || enrp", "-T", "ek", "-x", "-J",
                  "frame")  # fmt: skip
    frames = {}
    for line in out.splitlines():
        layers = json.loads(line).get("layers")
        if layers:
            number = int(layers["frame"]["frame_frame_number"])
            frames[number] = bytes.fromhex(layers["frame_raw"])
    return frames


def decode(path: Path, udp_port: int = SCTP_UDP_PORT) -> DecodedCapture:
    """Every ASAP/ENRP message in a capture, in order, and the count of malformed ones;
    UDP datagrams to or from ``udp_port`` are SCTP over UDP."""
    decode_as = ["-d", f"udp.port=={udp_port},sctp"]
    pdml = _tshark("-r", str(path), *decode_as, "-Y", "asap || enrp || _ws.malformed", "-T",
                   "pdml")  # fmt: skip
    raw_frames = _frame_bytes(path, decode_as)
    messages: list[CapturedMessage] = []
    malformed = 0
    for packet in ET.fromstring(pdml).iter("packet"):
        protos = packet.findall("proto")
        malformed += sum(p.get("name") == "_ws.malformed" for p in protos)
        messages.extend(_messages_in(packet, protos, raw_frames))
    return DecodedCapture(messages, malformed)


def _field(node: ET.Element, name: str) -> ET.Element | None:
    return next((f for f in node.iter("field") if f.get("name") == name), None)


def _show(node: ET.Element | None, default: str = "") -> str:
    return default if node is None else node.get("show", default)


def _messages_in(
    packet: ET.Element, protos: list[ET.Element], raw_frames: dict[int, bytes]
) -> list[CapturedMessage]:
    by_name = {p.get("name"): p for p in protos}
    frame = int(_show(_field(by_name["frame"], "frame.number"), "0"))
    ip_proto = by_name.get("ip") or by_name.get("ipv6")
    if ip_proto is None:
        return []
    family = "ip" if ip_proto.get("name") == "ip" else "ipv6"
    src_ip = _show(_field(ip_proto, f"{family}.src"))
    dst_ip = _show(_field(ip_proto, f"{family}.dst"))
    raw = raw_frames.get(frame, b"")
    found = []
    if "sctp" in by_name:
        sctp = by_name["sctp"]
        ports = (int(_show(_field(sctp, "sctp.srcport"), "0")),
                 int(_show(_field(sctp, "sctp.dstport"), "0")))  # fmt: skip
        # Each DATA chunk: its user data (start, length) in the frame and its PPID.
        chunks = []
        for chunk in sctp.findall("field"):  # one unnamed node per chunk
            if _show(_field(chunk, "sctp.chunk_type")) != "0":
                continue  # not a DATA chunk
            start = int(chunk.get("pos", "0"))
            length = int(_show(_field(chunk, "sctp.chunk_length"), "16"))
            ppid = int(_show(_field(chunk, "sctp.data_payload_proto_id"), "0"))
            chunks.append((start + 16, length - 16, ppid))
        for proto in protos:
            if proto.get("name") not in ("asap", "enrp"):
                continue
            pos = int(proto.get("pos", "0"))
            data_start, data_len, ppid = next(
                (c for c in reversed(chunks) if c[0] <= pos), (pos, int(proto.get("size", "0")), 0)
            )
            payload = raw[data_start : data_start + data_len]
            found.append(_message(frame, proto, "sctp", ppid, src_ip, dst_ip, ports, payload))
    elif "udp" in by_name:
        udp = by_name["udp"]
        ports = (int(_show(_field(udp, "udp.srcport"), "0")),
                 int(_show(_field(udp, "udp.dstport"), "0")))  # fmt: skip
        start = int(udp.get("pos", "0")) + 8
        payload = raw[start : start + int(_show(_field(udp, "udp.length"), "8")) - 8]
        for proto in protos:
            if proto.get("name") in ("asap", "enrp"):
                ppid = UDP_PPID.get(ports[1], 0)
                found.append(_message(frame, proto, "udp", ppid, src_ip, dst_ip, ports, payload))
    return found


def _message(
    frame: int,
    proto: ET.Element,
    transport: str,
    ppid: int,
    src_ip: str,
    dst_ip: str,
    ports: tuple[int, int],
    raw: bytes,
) -> CapturedMessage:
    name = str(proto.get("name"))
    type_field = _field(proto, f"{name}.message_type")
    shown = "" if type_field is None else type_field.get("showname", "")
    # "Type: ASAP Registration (1)" -> "ASAP Registration"
    label = shown.partition(": ")[2].rpartition(" (")[0] or name.upper()
    return CapturedMessage(
        frame=frame,
        protocol=name,
        type=int(_show(type_field, "-1")),
        name=label,
        transport=transport,
        ppid=ppid,
        src=(src_ip, ports[0]),
        dst=(dst_ip, ports[1]),
        raw=raw,
    )


def main() -> None:
    """``python -m interop.capture FILE``: print the ASAP/ENRP messages in a capture."""
    import sys

    decoded = decode(Path(sys.argv[1]))
    for message in decoded.messages:
        print(message)
    print(f"{len(decoded.messages)} messages, {decoded.malformed} malformed")


if __name__ == "__main__":
    main()
