"""The SCTP packet codec: every chunk round-trips, the CRC32c matches real captures, and the
decoder raises nothing but SctpDecodeError whatever bytes it is given."""

from __future__ import annotations

import contextlib
import ipaddress
import struct
from pathlib import Path

import dpkt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rserpool.sctp import SctpDecodeError, SctpEncodeError, decode_packet_untrusted
from rserpool.sctp.causes import ErrorCause
from rserpool.sctp.chunks import (
    Abort,
    CookieAck,
    CookieEcho,
    Data,
    Error,
    Heartbeat,
    HeartbeatAck,
    Init,
    InitAck,
    Sack,
    Shutdown,
    ShutdownAck,
    ShutdownComplete,
    UnknownChunk,
)
from rserpool.sctp.constants import CauseCode, ParamType, UnknownAction
from rserpool.sctp.packet import Packet, checksum, encode_packet
from rserpool.sctp.params import (
    AddressParameter,
    CookiePreservative,
    HostNameAddress,
    StateCookie,
    SupportedAddressTypes,
    UnknownParameter,
    UnrecognizedParameter,
)

CAPTURES = Path(__file__).resolve().parents[1] / "data" / "captures"
U32 = st.integers(0, 0xFFFFFFFF)
U16 = st.integers(0, 0xFFFF)

EXAMPLES = [
    Data(1, 2, 3, 4, b"hello", beginning=True, ending=False, unordered=True, immediate=True),
    Data(0xFFFFFFFF, 0, 0xFFFF, 51, b"x" * 1001),
    Init(
        0x12345678,
        65536,
        10,
        10,
        99,
        (
            AddressParameter(ipaddress.ip_address("192.0.2.1")),
            AddressParameter(ipaddress.ip_address("2001:db8::1")),
            CookiePreservative(1500),
            SupportedAddressTypes((5, 6)),
            UnknownParameter(0x8000, b""),  # ECN Capable
            UnknownParameter(0xC123, b"abc"),
        ),
    ),
    InitAck(
        7, 1500, 1, 1, 0, (StateCookie(b"c" * 45), UnrecognizedParameter(b"\xc1\x23\0\x07abc"))
    ),
    Sack(100, 5000, ((2, 3), (5, 9)), (99, 98)),
    Sack(0, 0),
    Heartbeat(b"info" * 9),
    HeartbeatAck(b"i"),
    Abort((ErrorCause.user_abort(b"bye"), ErrorCause.stale_cookie(7)), reflected=True),
    Abort(),
    Shutdown(0xFFFFFFFF),
    ShutdownAck(),
    Error((ErrorCause.invalid_stream(3), ErrorCause.missing_mandatory((7, 9)))),
    Error((ErrorCause.no_user_data(5), ErrorCause(CauseCode.OUT_OF_RESOURCE))),
    CookieEcho(b"\x01" * 77),
    CookieAck(),
    ShutdownComplete(reflected=True),
    UnknownChunk(0xC0, 0x5A, b"xyz"),
]


@pytest.mark.parametrize("chunk", EXAMPLES, ids=lambda c: type(c).__name__)
def test_every_chunk_round_trips(chunk: object) -> None:
    alone = isinstance(chunk, Init | ShutdownComplete)  # never bundled
    chunks = (chunk,) if alone else (chunk, CookieAck())
    data = encode_packet(5000, 6000, 0xCAFEBABE, chunks)  # type: ignore[arg-type]
    assert len(data) % 4 == 0
    packet = decode_packet_untrusted(data)
    assert packet == Packet(5000, 6000, 0xCAFEBABE, chunks)  # type: ignore[arg-type]
    assert packet.encode() == data


def test_crc32c_is_castagnoli_stored_little_endian() -> None:
    """RFC 9260 Appendix A / RFC 3720 B.4 check value, and the field's byte order."""
    assert checksum(b"123456789") == 0xE3069283
    data = encode_packet(1, 2, 3, [CookieAck()])
    zeroed = data[:8] + b"\0\0\0\0" + data[12:]
    assert data[8:12] == struct.pack("<I", checksum(zeroed))


def _sctp_payloads(name: str) -> list[bytes]:
    out = []
    with (CAPTURES / name).open("rb") as fh:
        for _, frame in dpkt.pcapng.Reader(fh):
            ip = dpkt.sll.SLL(frame).data
            if isinstance(ip, dpkt.ip.IP | dpkt.ip6.IP6) and ip.p == 132:
                out.append(bytes(ip.data))
    return out


def test_packets_captured_from_linux_decode_with_their_crc() -> None:
    """Kernel SCTP's own packets (RSPLIB tests): every CRC32c verifies, every chunk decodes."""
    payloads = _sctp_payloads("takeover.pcapng")
    assert len(payloads) > 100
    kinds: set[str] = set()
    for raw in payloads:
        packet = decode_packet_untrusted(raw)
        kinds.update(type(c).__name__ for c in packet.chunks)
        assert packet.encode() == raw  # byte-exact, CRC included
    assert {"Init", "InitAck", "CookieEcho", "CookieAck", "Data", "Sack"} <= kinds


def test_bad_crc_is_refused() -> None:
    data = bytearray(encode_packet(1, 2, 3, [CookieAck()]))
    data[8] ^= 1
    with pytest.raises(SctpDecodeError, match="CRC32c"):
        decode_packet_untrusted(bytes(data))


def _reseal(data: bytes) -> bytes:
    """Recompute the CRC32c so a test reaches the chunk parser."""
    zeroed = data[:8] + b"\0\0\0\0" + data[12:]
    return zeroed[:8] + struct.pack("<I", checksum(zeroed)) + zeroed[12:]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\x0b\x00\x00\x02", "below 4"),
        (b"\x0b\x00\x00\x04\x00", "stray"),
        (b"\x07\x00\x00\x04", "SHUTDOWN"),  # SHUTDOWN without its cumulative TSN ack
        (b"\x03\x00\x00\x10" + b"\0" * 8 + b"\x00\x05\x00\x00", "SACK"),  # 5 gap blocks lie
        (b"\x04\x00\x00\x0c\x00\x09\x00\x08\x00\x00\x00\x01", "Heartbeat Info"),
        (b"\x09\x00\x00\x0c\x00\x03\x00\x06\x00\x00\x00\x00", "cause 3"),
    ],
)
def test_malformed_chunks_are_decode_errors(body: bytes, reason: str) -> None:
    with pytest.raises(SctpDecodeError, match=reason):
        decode_packet_untrusted(_reseal(b"\0\1\0\2\0\0\0\3\0\0\0\0" + body))


def test_a_partial_last_chunk_is_dropped() -> None:
    """§6.10: a chunk the packet is too short for is dropped; the ones before it stay."""
    data = encode_packet(1, 2, 3, [CookieAck(), CookieEcho(b"x" * 20)])
    packet = decode_packet_untrusted(_reseal(data[:-8]))
    assert packet.chunks == (CookieAck(),)
    assert packet.truncated


def test_init_bundled_with_another_chunk_is_refused() -> None:
    chunks = [Init(1, 1500, 1, 1, 0).encode(), CookieAck().encode()]
    from rserpool.sctp.packet import assemble

    with pytest.raises(SctpDecodeError, match="bundled"):
        decode_packet_untrusted(assemble(1, 2, 0, chunks))


def test_final_padding_may_be_counted_or_not() -> None:
    """§3.2: accept a chunk whether or not its last parameter's padding is in its length."""
    init = Init(1, 1500, 1, 1, 0, (HostNameAddress(b"a\0"),))
    raw = bytearray(encode_packet(1, 2, 0, [init]))
    length = struct.unpack_from("!H", raw, 14)[0]
    struct.pack_into("!H", raw, 14, length + 2)  # count the padding
    assert decode_packet_untrusted(_reseal(bytes(raw))).chunks == (init,)


def test_action_bits() -> None:
    assert UnknownAction.of_chunk(0x3F) is UnknownAction.STOP
    assert UnknownAction.of_chunk(0x40) is UnknownAction.STOP_AND_REPORT
    assert UnknownAction.of_chunk(0x80) is UnknownAction.SKIP
    assert UnknownAction.of_chunk(0xC0) is UnknownAction.SKIP_AND_REPORT
    assert UnknownParameter(ParamType.ECN_CAPABLE, b"").action is UnknownAction.SKIP
    assert UnknownParameter(0x4000, b"").action.stops
    assert UnknownParameter(0xC000, b"").action.reports


def test_out_of_range_values_are_encode_errors() -> None:
    with pytest.raises(SctpEncodeError):
        Data(1 << 32, 0, 0, 0, b"x").encode()
    with pytest.raises(SctpEncodeError):
        encode_packet(70000, 1, 1, [CookieAck()])
    with pytest.raises(SctpEncodeError):
        CookieEcho(b"x" * 70000).encode()


# ----------------------------------------------------------------------------- fuzzing

addresses = st.one_of(
    st.builds(ipaddress.IPv4Address, U32),
    st.builds(ipaddress.IPv6Address, st.integers(0, (1 << 128) - 1)),
)
causes = st.builds(ErrorCause, st.integers(14, 0xFFFF), st.binary(max_size=20)) | st.builds(
    ErrorCause.stale_cookie, U32
)
params = st.one_of(
    st.builds(AddressParameter, addresses),
    st.builds(CookiePreservative, U32),
    st.builds(SupportedAddressTypes, st.lists(U16, max_size=4).map(tuple)),
    st.builds(UnknownParameter, st.integers(0x8001, 0xFFFF), st.binary(max_size=12)),
)
chunks = st.one_of(
    st.builds(
        Data,
        U32,
        U16,
        U16,
        U32,
        st.binary(max_size=64),
        st.booleans(),
        st.booleans(),
        st.booleans(),
        st.booleans(),
    ),
    st.builds(
        Sack,
        U32,
        U32,
        st.lists(st.tuples(U16, U16), max_size=5).map(tuple),
        st.lists(U32, max_size=5).map(tuple),
    ),
    st.builds(Heartbeat, st.binary(max_size=40)),
    st.builds(HeartbeatAck, st.binary(max_size=40)),
    st.builds(Abort, st.lists(causes, max_size=3).map(tuple), st.booleans()),
    st.builds(Error, st.lists(causes, max_size=3).map(tuple)),
    st.builds(Shutdown, U32),
    st.builds(CookieEcho, st.binary(max_size=80)),
    st.just(CookieAck()),
    st.just(ShutdownAck()),
    st.builds(UnknownChunk, st.integers(15, 255), st.integers(0, 255), st.binary(max_size=30)),
)
init_chunks = st.builds(
    Init, U32, U32, U16, U16, U32, st.lists(params, max_size=5).map(tuple)
) | st.just(ShutdownComplete())


@settings(max_examples=500)
@given(st.lists(chunks, min_size=1, max_size=6) | init_chunks.map(lambda c: [c]), U16, U16, U32)
def test_fuzz_round_trip(chunk_list: list[object], sport: int, dport: int, tag: int) -> None:
    data = encode_packet(sport, dport, tag, chunk_list)  # type: ignore[arg-type]
    assert decode_packet_untrusted(data) == Packet(sport, dport, tag, tuple(chunk_list))  # type: ignore[arg-type]


def _only_decode_errors(data: bytes) -> None:
    with contextlib.suppress(SctpDecodeError):
        decode_packet_untrusted(data)


@settings(max_examples=1000)
@given(st.binary(max_size=300))
def test_fuzz_garbage(data: bytes) -> None:
    _only_decode_errors(data)
    _only_decode_errors(_reseal(data) if len(data) >= 12 else data)


@settings(max_examples=1000)
@given(st.lists(chunks, min_size=1, max_size=4), st.data())
def test_fuzz_bit_flips_truncation_and_length_lies(
    chunk_list: list[object], draw: st.DataObject
) -> None:
    data = bytearray(encode_packet(1, 2, 3, chunk_list))  # type: ignore[arg-type]
    for _ in range(draw.draw(st.integers(1, 4))):
        bit = draw.draw(st.integers(12 * 8, len(data) * 8 - 1))
        data[bit // 8] ^= 1 << (bit % 8)
    cut = draw.draw(st.integers(0, len(data)))
    lie = draw.draw(st.integers(0, 0xFFFF))
    _only_decode_errors(_reseal(bytes(data)))
    _only_decode_errors(_reseal(bytes(data[: max(12, cut)])))
    if len(data) >= 16:  # the first chunk's length field lies
        lied = bytearray(data)
        struct.pack_into("!H", lied, 14, lie)
        _only_decode_errors(_reseal(bytes(lied)))
