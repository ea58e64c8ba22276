"""Our SCTP over UDP against usrsctp, the FreeBSD stack in userland, on loopback.

Every test runs a usrsctp program (see :mod:`tests.usrsctp.programs` for what each does and
prints) against a :class:`UserlandHost` and checks both sides: what our socket reports and
what the usrsctp program printed. Handshakes go both ways (we connect to echo_server,
discard_server and tsctp; their client and tsctp connect to our listener), and so do
shutdown and abort.
"""

from __future__ import annotations

from collections.abc import Callable

import trio

from rserpool.transport import (
    CommLost,
    PeerShutdown,
    Received,
    SctpMessage,
    ShutdownComplete,
)
from rserpool.transport.userland import UserlandHost
from tests.transport.helpers import messages, wait_for
from tests.usrsctp.conftest import DISCARD_PORT, ECHO_PORT, TSCTP_PORT, Usrsctp
from tests.usrsctp.programs import LOCALHOST

Ours = Callable[..., UserlandHost]
PIECE = (
    r"Msg of length (\d+) received from \S+ on stream (\d+) .* PPID (\d+), "
    r"context \d+, complete (\d)"
)


async def test_we_connect_to_echo_server_and_every_stream_echoes(
    usrsctp: Usrsctp, ours: Ours
) -> None:
    server, udp_port = await usrsctp.server("echo_server")
    host = ours(udp_port)
    with trio.fail_after(10):
        assoc = await host.sctp_connect([(LOCALHOST, ECHO_PORT)])
        assert assoc.peer_addresses()[0] == (LOCALHOST, ECHO_PORT)
        # echo_server opens 10 outbound streams (usrsctp's default): it answers on 0..9.
        sent = [
            SctpMessage(f"stream {s} ppid {1000 + s}".encode() * (s + 1), 1000 + s, s)
            for s in range(10)
        ]
        sent.append(SctpMessage(bytes(range(256)) * 39, 7, 4))  # 9984 bytes: 9 DATA chunks
        for m in sent:
            await assoc.send(m.data, m.ppid, m.stream)
        got = await messages(assoc.receive, len(sent))
        assert [(m.data, m.ppid, m.stream) for m in got] == [
            (m.data, m.ppid, m.stream) for m in sent
        ]
        # Unordered messages come back unordered (echo_server copies the flag).
        await assoc.send(b"unordered", 99, 3, unordered=True)
        (back,) = await messages(assoc.receive, 1)
        assert (back.data, back.ppid, back.stream, back.unordered) == (b"unordered", 99, 3, True)
    lines = await server.wait_for(PIECE, count=len(sent) + 1)
    assert [line.split(" PPID ")[1].split(",")[0] for line in lines] == [
        str(m.ppid) for m in sent
    ] + ["99"]
    await assoc.aclose()


async def test_their_client_connects_to_us_and_shuts_down(usrsctp: Usrsctp, ours: Ours) -> None:
    host = ours()
    listener = await host.sctp_listen(0)
    client = await usrsctp.client((LOCALHOST, listener.port), host.udp_port)
    with trio.fail_after(10):
        assoc = await listener.accept()
        await client.wait_for(r"Association change SCTP_COMM_UP")
        await client.send_line("hello from usrsctp")
        (message,) = await messages(assoc.receive, 1)
        assert (message.data, message.ppid, message.stream) == (b"hello from usrsctp\n", 0, 0)
        await assoc.send(b"hello from rserpool\n", 51, 0)
        await client.wait_for(r"^hello from rserpool$")
        await client.close_stdin()  # end of input: the client shuts the association down
        skipped: list[Received] = []
        await wait_for(assoc.receive, ShutdownComplete, skipped)
        assert any(isinstance(item, PeerShutdown) for item in skipped), skipped
        await client.wait_for(r"Association change SCTP_SHUTDOWN_COMP")


async def test_fragmented_64k_messages_to_discard_server(usrsctp: Usrsctp, ours: Ours) -> None:
    server, udp_port = await usrsctp.server("discard_server")
    host = ours(udp_port)
    sizes = [65536, 65536 - 1, 65536 + 1000]
    with trio.fail_after(10):
        assoc = await host.sctp_connect([(LOCALHOST, DISCARD_PORT)])
        for i, size in enumerate(sizes):
            await assoc.send(bytes([i]) * size, 40 + i, stream=i + 1)
        # discard_server reads at most 10240 bytes at a time; "complete 1" ends a message.
        await server.wait_for(r"complete 1", count=len(sizes))
    received: list[int] = []
    total = 0
    for match in server.matches(PIECE):
        length, stream, ppid, complete = map(int, match.groups())
        total += length
        assert (stream, ppid) == (len(received) + 1, 40 + len(received))
        if complete:
            received.append(total)
            total = 0
    assert received == sizes
    await assoc.aclose()


async def test_fragmented_64k_messages_from_tsctp_then_its_shutdown(
    usrsctp: Usrsctp, ours: Ours
) -> None:
    host = ours()
    listener = await host.sctp_listen(0)
    await usrsctp.tsctp_sender((LOCALHOST, listener.port), host.udp_port, "-l", 65536, "-n", 5)
    with trio.fail_after(10):
        assoc = await listener.accept()
        got = await messages(assoc.receive, 5)
        assert [m.data for m in got] == [b"b" * 65536] * 5
        # tsctp sends its last message with SCTP_EOF: a graceful shutdown follows it.
        skipped: list[Received] = []
        await wait_for(assoc.receive, ShutdownComplete, skipped)
        assert any(isinstance(item, PeerShutdown) for item in skipped), skipped


async def test_we_shut_down_after_every_message_reached_tsctp(usrsctp: Usrsctp, ours: Ours) -> None:
    receiver, udp_port = await usrsctp.tsctp_receiver()
    host = ours(udp_port)
    count = 2000
    with trio.fail_after(10):
        assoc = await host.sctp_connect([(LOCALHOST, TSCTP_PORT)])
        for _ in range(count):
            await assoc.send(bytes(100), 0)
        await assoc.shutdown()
        await wait_for(assoc.receive, ShutdownComplete)
        # tsctp's summary: length, messages, reads, bytes, seconds, bytes/s, notifications
        (summary,) = await receiver.wait_for(r"^100, \d+, ")
    length, messages_, _, total = (int(x) for x in summary.split(", ")[:4])
    assert (length, messages_, total) == (100, count, 100 * count)


async def test_we_abort_their_client(usrsctp: Usrsctp, ours: Ours) -> None:
    host = ours()
    listener = await host.sctp_listen(0)
    client = await usrsctp.client((LOCALHOST, listener.port), host.udp_port)
    with trio.fail_after(10):
        assoc = await listener.accept()
        await client.wait_for(r"Association change SCTP_COMM_UP")
        await assoc.abort()
        (lost,) = await client.wait_for(r"Association change SCTP_COMM_LOST")
    assert "ABORT =" in lost  # the ABORT chunk we sent, as usrsctp hands it to its user


async def test_tsctp_aborts_when_it_closes_with_our_message_unread(
    usrsctp: Usrsctp, ours: Ours
) -> None:
    # Closing a socket that holds unread data aborts its association (FreeBSD's
    # sctp_inpcb_free: "user initiated abort"). tsctp never reads while it sends.
    host = ours()
    listener = await host.sctp_listen(0)
    await usrsctp.tsctp_sender((LOCALHOST, listener.port), host.udp_port, "-l", 1000, "-n", 5000)
    with trio.fail_after(10):
        assoc = await listener.accept()
        await assoc.send(b"never read", 1)
        skipped: list[Received] = []
        await wait_for(assoc.receive, CommLost, skipped)
    # An ABORT, not the graceful end tsctp's last message (sent with SCTP_EOF) asks for.
    assert not any(isinstance(item, ShutdownComplete | PeerShutdown) for item in skipped)


async def test_ipv6_loopback_handshake_and_echo(usrsctp: Usrsctp, ours: Ours) -> None:
    server, udp_port = await usrsctp.server("echo_server")
    host = ours(udp_port, "::1")
    with trio.fail_after(10):
        assoc = await host.sctp_connect([("::1", ECHO_PORT)])
        await assoc.send(b"over IPv6", 66, 1)
        (back,) = await messages(assoc.receive, 1)
        assert (back.data, back.ppid, back.stream) == (b"over IPv6", 66, 1)
        await assoc.shutdown()
        await wait_for(assoc.receive, ShutdownComplete)
    (line,) = await server.wait_for(PIECE)
    assert "received from ::1:" in line
