"""``rserpool decode FILE`` and ``rserpool decode --hex BYTES``: ASAP/ENRP explained, no tshark.

``rserpool decode capture.pcapng`` prints every ASAP and ENRP message of a pcap or pcapng
capture (tshark's and tcpdump's, ``-i any`` or one interface, IPv4 or IPv6), one line each:

    #4     0.001206 sctp 198.51.100.2:38022 -> 198.51.100.1:3863  ASAP Registration: PE ...

frame number, seconds since the first frame, transport and addresses, the message, and what it
means in the conversation (:mod:`rserpool.wire.explain`). SCTP over UDP (RFC 6951, what
``--transport udp`` sends) is read too: UDP datagrams to or from port 9899 hold SCTP packets,
shown as ``sctp/udp`` with the SCTP ports; ``--udp-port N`` reads another port as SCTP over
UDP, ``--udp-port 0`` none. ``-v`` adds the message summary and
the annotated byte dump of :func:`rserpool.wire.dump` under each line. A message the codec
rejects is an ``undecodable`` line with the reason; the exit status is then 1.

``rserpool decode capture.pcapng --svg flow.svg`` draws the messages as a sequence diagram
instead (:mod:`rserpool.presentation.sequence`): one lifeline per pool user, registrar and pool
element, one arrow per message, repeated Keep Alives, Presences and Server Announces folded.
``--mermaid flow.mmd`` writes the same diagram as Mermaid text (``-``: to standard output);
either or both.

``rserpool decode --hex '01 00 00 08 ...' [--protocol asap|enrp]`` decodes one message given
in hex (spaces and colons allowed, as Wireshark copies bytes) and prints its summary, its
explanation and its dump. Without ``--ppid``/``--protocol`` the bytes are tried as ASAP, then
as ENRP (type 0x01 is a Registration in ASAP and a Presence in ENRP).

Exit status: 0 all decoded; 1 an unreadable capture, an undecodable message, bytes that do
not decode or a diagram that cannot be written; 2 a usage error (such as ``--hex`` input that
is not hex).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import traceback
from typing import TYPE_CHECKING

from rserpool.cli.common import integer, tell_error
from rserpool.cli.options import translate_rsplib
from rserpool.wire.constants import PPID

if TYPE_CHECKING:  # imported when used: other subcommands need not load dpkt
    from rserpool.capture import DecodedCapture

_PROTOCOLS = {"asap": PPID.ASAP, "enrp": PPID.ENRP}
SCTP_UDP_PORT = 9899  # as rserpool.capture's (not imported here: it loads dpkt)
_NOT_HEX = re.compile(r"[^0-9a-fA-F]")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "decode",
        help="print and explain the ASAP/ENRP messages of a capture, or of hex bytes",
        description=(
            "Read a pcap or pcapng capture (tshark or tcpdump, -i any or one interface) and "
            "print every ASAP and ENRP message in it, one line each: frame, time, addresses "
            "and what the message means. No tshark needed. Or decode one message given in hex."
        ),
    )
    p.add_argument("file", nargs="?", metavar="FILE", help="a pcap or pcapng capture")
    p.add_argument(
        "--hex",
        metavar="BYTES",
        help="decode one message given in hex instead (spaces and colons allowed)",
    )
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "--ppid",
        type=int,
        choices=[int(PPID.ASAP), int(PPID.ENRP)],
        help="with --hex: 11 for ASAP, 12 for ENRP (default: try both)",
    )
    which.add_argument(
        "--protocol", choices=sorted(_PROTOCOLS), help="with --hex: the same as --ppid 11 or 12"
    )
    p.add_argument("--udp-port", type=integer(0, 65535), default=SCTP_UDP_PORT, metavar="PORT",
                   help="read UDP datagrams to or from PORT as SCTP over UDP (RFC 6951; "
                   f"default {SCTP_UDP_PORT}, 0: none)")  # fmt: skip
    p.add_argument("--svg", metavar="OUT",
                   help="draw the capture's messages as a sequence diagram in SVG file OUT "
                   "(-: standard output) instead of listing them")  # fmt: skip
    p.add_argument(
        "--mermaid",
        metavar="OUT",
        help="write the sequence diagram as Mermaid text to OUT (-: standard output)",
    )
    p.add_argument("-v", "--verbose", action="store_true",
                   help="add each message's summary and annotated byte dump")  # fmt: skip
    p.set_defaults(func=run)


def translate(argv: list[str]) -> tuple[list[str], list[str]]:
    return translate_rsplib(argv, {})


def _fail(reason: str, status: int = 1) -> int:
    tell_error("rserpool decode", reason, usage=status == 2)
    return status


def run(args: argparse.Namespace) -> int:
    try:
        drawing = args.svg is not None or args.mermaid is not None
        if args.hex is not None:
            if drawing:
                return _fail("--svg and --mermaid draw a capture FILE, not --hex BYTES", 2)
            if args.file is not None:
                return _fail("give a FILE or --hex BYTES, not both", 2)
            return decode_hex(args.hex, _ppid(args), args.verbose)
        if args.ppid is not None or args.protocol is not None:
            return _fail("--ppid and --protocol go with --hex", 2)
        if args.file is None:
            if drawing:
                return _fail("--svg and --mermaid need a capture FILE", 2)
            return _fail("give a capture FILE, or --hex BYTES", 2)
        if drawing and args.svg == args.mermaid == "-":
            return _fail("--svg and --mermaid cannot both go to standard output (-)", 2)
        if drawing:
            return draw_file(args.file, args.svg, args.mermaid, args.udp_port or None)
        return decode_file(args.file, args.verbose, args.udp_port or None)
    except BrokenPipeError:  # `rserpool decode x.pcapng | head`: the reader has had enough
        sys.stderr.close()
        return 1
    except Exception as exc:  # never a traceback for a person, unless they asked (-v)
        if args.verbose:
            traceback.print_exc()
        return _fail(f"internal error: {type(exc).__name__}: {exc}")


def _ppid(args: argparse.Namespace) -> int | None:
    if args.protocol is not None:
        return int(_PROTOCOLS[args.protocol])
    return None if args.ppid is None else int(args.ppid)


# ------------------------------------------------------------------------------- --hex


def parse_hex(text: str) -> bytes:
    """``"01 00:00 08"`` → bytes; raises ValueError with a reason for anything else."""
    digits = re.sub(r"[\s:]", "", text)
    if digits[:2].lower() == "0x":
        digits = digits[2:]
    if not digits:
        raise ValueError("no hex digits")
    bad = _NOT_HEX.search(digits)
    if bad is not None:
        raise ValueError(f"{bad.group()!r} is not a hex digit")
    if len(digits) % 2:
        raise ValueError(f"an odd number of hex digits ({len(digits)})")
    return bytes.fromhex(digits)


def decode_hex(text: str, ppid: int | None, verbose: bool) -> int:
    from rserpool.wire import DecodeError, decode_message_untrusted, dump
    from rserpool.wire.explain import explain

    try:
        data = parse_hex(text)
    except ValueError as exc:
        return _fail(f"--hex: not hex: {exc}", 2)
    errors: list[str] = []
    for candidate in (ppid,) if ppid is not None else (PPID.ASAP, PPID.ENRP):
        try:
            message = decode_message_untrusted(candidate, data)
        except DecodeError as exc:
            errors.append(f"not {PPID(candidate).name}: {exc}")
            continue
        print(message.summary())
        print(f"  = {explain(message)}")
        print(dump(data, candidate))
        return 0
    if verbose:
        print(dump(data, ppid or PPID.ASAP))
    return _fail(f"{len(data)} bytes do not decode: {'; '.join(errors)}")


# ------------------------------------------------------------------------------- FILE


def _read(path: str, udp_port: int | None) -> tuple[DecodedCapture | None, str | None]:
    """The capture (or what of it could be read) and the problem, if any, in one line."""
    from rserpool.capture import CaptureError, read_capture

    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        return None, f"cannot read {path}: {exc.strerror or exc}"
    try:
        return read_capture(data, udp_port), None
    except CaptureError as exc:
        return exc.partial, f"{path}: {exc.reason}"


def decode_file(path: str, verbose: bool, udp_port: int | None = SCTP_UDP_PORT) -> int:
    decoded, problem = _read(path, udp_port)
    if decoded is not None:
        for line in render(decoded, verbose):
            print(line)
    if problem is not None:
        sys.stdout.flush()
        return _fail(problem)
    return 1 if decoded is not None and decoded.undecodable else 0


def draw_file(
    path: str, svg: str | None, mermaid: str | None, udp_port: int | None = SCTP_UDP_PORT
) -> int:
    """``--svg OUT`` and ``--mermaid OUT``: the capture as a sequence diagram."""
    from rserpool.presentation.sequence import sequence_diagram
    from rserpool.presentation.sequence_mermaid import render_mermaid
    from rserpool.presentation.sequence_svg import render_svg

    decoded, problem = _read(path, udp_port)
    if decoded is None:
        return _fail(problem or f"cannot read {path}")
    diagram = sequence_diagram(decoded.records, os.path.basename(path))
    what = (
        f"{len(diagram.participants)} lifelines, {len(diagram.arrows)} arrows for "
        f"{len(decoded.messages)} ASAP/ENRP messages"
    )
    for out, text in ((svg, render_svg), (mermaid, render_mermaid)):
        if out is None:
            continue
        if out == "-":
            sys.stdout.write(text(diagram))
            continue
        try:
            with open(out, "w", encoding="utf-8") as f:
                f.write(text(diagram))
        except OSError as exc:
            return _fail(f"cannot write {out}: {exc.strerror or exc}")
        if "-" not in (svg, mermaid):  # standard output holds nothing but the diagram
            print(f"{out}: sequence diagram, {what}")
    if problem is not None:
        sys.stdout.flush()
        return _fail(problem)
    return 1 if decoded.undecodable else 0


def render(decoded: DecodedCapture, verbose: bool = False) -> list[str]:
    """The lines ``rserpool decode`` prints for a capture."""
    from rserpool.wire import dump
    from rserpool.wire.explain import explain

    lines = []
    for r in decoded.records:
        head = f"#{r.frame:<5} {r.time:10.6f} {r.where()}  "
        if r.message is not None:
            lines.append(f"{head}{r.name}: {explain(r.message)}")
        elif r.incomplete:
            lines.append(f"{head}{r.name} incomplete ({len(r.data)} bytes): {r.error}")
        else:
            lines.append(f"{head}{r.name} undecodable ({len(r.data)} bytes): {r.error}")
        if verbose and not r.incomplete:
            if r.message is not None:
                lines.append(f"      {r.message.summary()}")
            if r.chunks > 1:
                lines.append(f"      reassembled from {r.chunks} SCTP DATA chunks")
            if r.udp_ports is not None:
                sport, dport = r.udp_ports
                lines.append(f"      SCTP over UDP (RFC 6951): UDP port {sport} -> {dport}")
            lines.extend(f"      {line}" for line in dump(r.data, r.ppid).splitlines())
    lines.append(summary(decoded))
    return lines


def summary(decoded: DecodedCapture) -> str:
    """``12 ASAP/ENRP messages in 40 frames, 0 undecodable`` and the rest worth knowing."""
    parts = [
        f"{len(decoded.messages)} ASAP/ENRP messages in {decoded.frames} frames, "
        f"{len(decoded.undecodable)} undecodable"
    ]
    if decoded.incomplete:
        parts.append(f"{len(decoded.incomplete)} incomplete")
    if decoded.duplicates:
        parts.append(f"{decoded.duplicates} retransmitted DATA chunk(s) dropped")
    if decoded.fragments:
        parts.append(f"{decoded.fragments} IP fragment(s) skipped")
    if decoded.unparsed:
        parts.append(f"{decoded.unparsed} frame(s) with an unreadable UDP/SCTP header")
    return ", ".join(parts)
