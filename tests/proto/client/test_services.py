"""The RSPLIB-compatible services and the sequence-checking PingPong client."""

from __future__ import annotations

import datetime
import struct

from hypothesis import given
from hypothesis import strategies as st

from rserpool.apps.services import (
    CHARGEN_BLOCK,
    PINGPONG_PPID,
    CharGenService,
    Close,
    DaytimeService,
    DiscardService,
    EchoService,
    Ping,
    PingPongClient,
    PingPongService,
    Pong,
    Reply,
    SendCookie,
    decode_pingpong,
    pingpong_cookie,
)


def test_echo_discard_daytime_chargen() -> None:
    assert EchoService().received(33, b"x") == [Reply(33, b"x")]
    assert DiscardService().received(0, b"x") == []
    moment = datetime.datetime(2024, 5, 17, 13, 4, 5, 42)
    assert DaytimeService(moment).opened() == [
        Reply(0, b"Friday, 17-May-2024 13:04:05.000042\n"),
        Close(abort=False),
    ]
    chargen = CharGenService()
    assert chargen.opened() == [Reply(0, CHARGEN_BLOCK)]
    assert len(CHARGEN_BLOCK) == 1024 and CHARGEN_BLOCK[0] == 30 and CHARGEN_BLOCK[98] == 30
    assert chargen.next_block().data == CHARGEN_BLOCK and chargen.blocks_sent == 2


def test_pingpong_wire_format() -> None:
    # RSPLIB pingpongpackets.h: packed, network byte order
    ping = Ping(7, b"abc").encode()
    assert ping == b"\x01\x00\x00\x0f" + struct.pack("!Q", 7) + b"abc"
    pong = Pong(7, 3, b"abc").encode()
    assert pong == b"\x02\x00\x00\x17" + struct.pack("!QQ", 7, 3) + b"abc"
    assert decode_pingpong(ping) == Ping(7, b"abc")
    assert decode_pingpong(pong) == Pong(7, 3, b"abc")
    assert pingpong_cookie(5) == b"<PP-TD1>" + struct.pack("!Q", 5)
    assert decode_pingpong(b"\x01\x00\x00\x0b" + bytes(7)) is None  # too short for a Ping
    assert decode_pingpong(b"\x03\x00\x00\x0c" + bytes(8)) is None


def test_pingpong_server_and_cookie_echo() -> None:
    server = PingPongService()
    out = server.received(PINGPONG_PPID, Ping(1, b"d").encode())
    assert out == [Reply(PINGPONG_PPID, Pong(1, 1, b"d").encode()), SendCookie(pingpong_cookie(2))]
    # a new PE continues from the echoed cookie
    other = PingPongService()
    assert other.cookie_echo(pingpong_cookie(2)) == []
    assert other.received(PINGPONG_PPID, Ping(2).encode())[0] == Reply(
        PINGPONG_PPID, Pong(2, 2).encode()
    )
    assert other.cookie_echo(b"bad") == [Close(abort=True)]
    assert other.received(PINGPONG_PPID, b"nonsense") == [Close(abort=True)]
    failing = PingPongService(failure_after=1)
    assert failing.received(PINGPONG_PPID, Ping(1).encode())[-1] == Close(abort=True)


def test_client_detects_gaps_duplicates_and_loss() -> None:
    client = PingPongClient()
    p1, p2, p3 = client.ping(), client.ping(), client.ping()
    assert decode_pingpong(p2) == Ping(2)
    client.received(PINGPONG_PPID, Pong(1, 1).encode())
    assert (client.clean, client.unanswered()) == (True, [p2, p3])
    client.received(PINGPONG_PPID, Pong(1, 2).encode())  # answered twice
    assert client.duplicates == [1]
    client.received(PINGPONG_PPID, Pong(2, 4).encode())  # reply 3 missing
    assert client.gaps == [(3, 4)]
    client.received(PINGPONG_PPID, Pong(9, 5).encode())
    client.received(0, b"?")
    assert client.unexpected == [9] and client.garbage == 1 and not client.clean
    assert p1 not in client.unanswered()


@given(st.binary(max_size=64))
def test_pingpong_decoders_never_raise(data: bytes) -> None:
    decode_pingpong(data)
    PingPongService().received(PINGPONG_PPID, data)
    PingPongService().cookie_echo(data)
    PingPongClient().received(PINGPONG_PPID, data)
