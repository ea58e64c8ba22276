"""``rserpool terminal`` and ``rserpool pingpong``: bad options (one line, exit status 2),
RSPLIB spellings, and on the in-memory network: messages queued while there is no PE and told
as sent when they go out, the hunt and ``--timeout``."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence

import pytest
import trio

from rserpool.apps.service_handlers import service_handler
from rserpool.cli import main
from rserpool.cli.common import CommandError
from rserpool.cli.users import pingpong_main, terminal_main
from rserpool.drivers.pool_element import open_pool_element
from rserpool.drivers.registrar import serve_registrar
from rserpool.proto.registrar import RegistrarConfig
from rserpool.transport import MemoryNetwork
from tests.cli.helpers import leaves, matching, network, parse, said, tell_info

PR = "198.51.100.1:3863"


@pytest.mark.parametrize(
    ("command", "argv", "message"),
    [
        ("pingpong", ["--count", "-5"], "argument --count: must be at least 0, not -5"),
        ("pingpong", ["-count=x"], "argument -count: not a number: 'x'"),
        ("pingpong", ["--interval", "nan"], "argument --interval: not a number: 'nan'"),
        ("pingpong", ["-interval=-3"], "argument -interval: must be at least 1, not -3"),
        ("pingpong", ["--interval", "0"], "argument --interval: must be at least 1, not 0"),
        ("pingpong", ["--size", "-1"], "argument --size: must be at least 0, not -1"),
        ("pingpong", ["--size", "65516"], "argument --size: must be at most 65515, not 65516"),
        ("pingpong", ["--local", "bogus"], "argument --local: not an IP address: 'bogus'"),
        ("pingpong", ["--local", "1.2.3.4:99999"],
         "argument --local: bad port '99999' in '1.2.3.4:99999' (a port is 0-65535)"),
        ("pingpong", ["--pool-handle", ""],
         "argument --pool-handle: a pool handle cannot be empty (1 to 32 bytes)"),
        ("terminal", ["-poolhandle="],
         "argument -poolhandle: a pool handle cannot be empty (1 to 32 bytes)"),
        ("terminal", ["--pool-handle", "x" * 40],
         f"argument --pool-handle: '{'x' * 40}' is 40 bytes long; a pool handle has at most 32 "
         "bytes (UTF-8), RSPLIB's registrar refuses longer ones"),
        ("terminal", ["--linger", "-1"], "argument --linger: must be at least 0, not -1"),
        ("terminal", ["--linger", "nan"], "argument --linger: not a finite number: 'nan'"),
        ("terminal", ["--timeout", "nan"], "argument --timeout: not a finite number: 'nan'"),
        ("terminal", ["-registrar=1.2.3.4:99999"],
         "argument -registrar: bad port '99999' in '1.2.3.4:99999' (a port is 1-65535)"),
        ("terminal", ["--registrar", "::"],
         "argument --registrar: '::': :: is no address to connect to"),
        ("terminal", ["--registrar", "239.0.0.50:3863"],
         "argument --registrar: '239.0.0.50:3863': 239.0.0.50 is a multicast address, not one "
         "of an SCTP endpoint"),
    ],
)  # fmt: skip
def test_bad_options(
    command: str, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, *argv])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == (
        f"rserpool {command}: error: {message} (see rserpool {command} --help)\n"
    )


def test_rsplib_spellings() -> None:
    args = parse(["pingpong", "-count=5", "-interval=250", "-poolhandle=PP",
                  "-registrar=198.51.100.1:3863,203.0.113.1", "-asapannounce=off"])  # fmt: skip
    assert (args.count, args.interval, args.pool_handle) == (5, 250, "PP")
    assert [str(r) for r in args.registrar] == ["198.51.100.1,203.0.113.1:3863"]
    assert args.asap_announce is None
    args = parse(["terminal", "-poolhandle=EchoPool", "-identifier=0x10", "-loglevel=4"])
    assert args.pool_handle == "EchoPool" and args.log_level == "debug"
    assert "identifier" not in vars(args)


def test_rspterminal_identifier_is_noted_and_ignored(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["terminal", "-identifier=0x10", "--timeout=-1"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (
        "note: RSPLIB option -identifier=0x10 has no effect here (ignored): a pool user has no "
        "identifier of its own"
    )


def test_a_bad_option_in_a_subprocess_is_one_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "rserpool", "pingpong", "--local", "bogus"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == (
        "rserpool pingpong: error: argument --local: not an IP address: 'bogus' "
        "(see rserpool pingpong --help)\n"
    )


# ------------------------------------------------------------------ on the memory network


async def start_registrar(nursery: trio.Nursery, net: MemoryNetwork) -> None:
    config = RegistrarConfig(server_id=0x101, mentor_discovery_timeout=1000)
    await nursery.start(serve_registrar, net.hosts["pr"], config)


async def pe_later(net: MemoryNetwork, pool: str, service: str, delay: float) -> None:
    await trio.sleep(delay)
    async with open_pool_element(
        net.hosts["pe"], pool, registrars=[PR], announces=False, pe_id=0x2001,
        handler=service_handler(service),
    ):  # fmt: skip
        await trio.sleep_forever()


async def test_pingpong_queues_until_a_pe_appears(
    autojump_clock: trio.abc.Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """The PE registers 1.6 s late: Pings #1-#4 are told as queued, then as sent when the
    session connects; the rest as sent; every Pong arrives."""
    tell_info(caplog)
    net = network()
    args = parse(["pingpong", "--registrar", PR, "--asap-announce=off", "--count=8",
                  "--interval=500", "--timeout=10"])  # fmt: skip
    async with trio.open_nursery() as nursery:
        await start_registrar(nursery, net)
        nursery.start_soon(pe_later, net, "PingPongPool", "pingpong", 1.6)
        assert await pingpong_main(args, net.hosts["pu"]) == 0
        nursery.cancel_scope.cancel()
    lines = said(caplog)
    messages = matching(lines, r"^Message #|^Session: connected")
    assert messages == [
        "Message #1 queued: no PE yet",
        "Message #2 queued: no PE yet",
        "Message #3 queued: no PE yet",
        "Message #4 queued: no PE yet",
        "Session: connected to PE $00002001",
        "Message #1 sent (it was queued)",
        "Message #2 sent (it was queued)",
        "Message #3 sent (it was queued)",
        "Message #4 sent (it was queued)",
        "Message #5 sent",
        "Message #6 sent",
        "Message #7 sent",
        "Message #8 sent",
    ]
    # the empty pool is told once, not at every retry
    assert matching(lines, "no pool element") == [
        "Handle Resolution of PingPongPool: no pool element to connect to "
        "(UNKNOWN_POOL_HANDLE(0x9)); asking again every 0.25 s"
    ]
    assert lines[-1] == (
        "Summary: 8 Pings, 8 Pongs, 0 resent after failover, 0 failover(s), gaps 0, "
        "duplicates 0, unanswered 0"
    )


async def test_pingpong_without_a_registrar_times_out(
    autojump_clock: trio.abc.Clock, caplog: pytest.LogCaptureFixture
) -> None:
    tell_info(caplog)
    net = network()
    args = parse(["pingpong", "--registrar", PR, "--asap-announce=off", "--timeout=5"])
    with pytest.raises(BaseException) as info:
        await pingpong_main(args, net.hosts["pu"])
    (error,) = leaves(info.value)
    assert isinstance(error, CommandError)
    assert str(error) == (
        "no registrar answered within 5 s (tried 198.51.100.1:3863 once: connection refused)"
    )
    lines = said(caplog)
    assert matching(lines, "^Server hunt") == [
        "Server hunt: looking for a home registrar (1 known: static ones (--registrar, or "
        "127.0.0.1 over UDP on loopback) and Server Announces)",
        "Server hunt: connecting to registrar 198.51.100.1:3863, a static registrar",
        "Server hunt: registrar 198.51.100.1:3863 failed: connection refused",
        "Server hunt: no registrar reachable now: trying again in 10 s",
    ]
    assert matching(lines, "^Message #1 ") == ["Message #1 queued: no PE yet"]
    assert not matching(lines, " sent")


async def test_pingpong_with_an_empty_pool_times_out(autojump_clock: trio.abc.Clock) -> None:
    net = network()
    args = parse(["pingpong", "--registrar", PR, "--asap-announce=off", "--timeout=3"])
    async with trio.open_nursery() as nursery:
        await start_registrar(nursery, net)
        with pytest.raises(BaseException) as info:
            await pingpong_main(args, net.hosts["pu"])
        nursery.cancel_scope.cancel()
    (error,) = leaves(info.value)
    assert isinstance(error, CommandError)
    assert str(error) == (
        "no pool element of PingPongPool reachable within 3 s (registrar at "
        "198.51.100.1:3863: UNKNOWN_POOL_HANDLE(0x9))"
    )


async def test_pool_user_without_any_registrar_known(autojump_clock: trio.abc.Clock) -> None:
    net = network()
    args = parse(["terminal", "--timeout=2"])
    with pytest.raises(BaseException) as info:
        await terminal_main(args, net.hosts["pu"], Lines([]))
    (error,) = leaves(info.value)
    assert str(error) == (
        "no registrar answered within 2 s (none known: no --registrar given and no Server "
        "Announce heard)"
    )


class Lines:
    """Standard input for the terminal: the lines, then the end."""

    def __init__(self, lines: Sequence[str]) -> None:
        self.lines = list(lines)

    async def readline(self) -> str:
        await trio.sleep(0.1)
        return self.lines.pop(0) if self.lines else ""


async def test_terminal_queues_lines_until_a_pe_appears(
    autojump_clock: trio.abc.Clock, caplog: pytest.LogCaptureFixture
) -> None:
    tell_info(caplog)
    net = network()
    args = parse(["terminal", "--registrar", PR, "--asap-announce=off", "--linger=1"])
    async with trio.open_nursery() as nursery:
        await start_registrar(nursery, net)
        nursery.start_soon(pe_later, net, "EchoPool", "echo", 2)
        lines = Lines(["hello\n", "world\n"])
        assert await terminal_main(args, net.hosts["pu"], lines) == 0
        nursery.cancel_scope.cancel()
    told = said(caplog)
    assert matching(told, r"^line #|^Session: |^sent |^from PE") == [
        "line #1 queued: no PE yet; it goes out when the session is connected",
        "line #2 queued: no PE yet; it goes out when the session is connected",
        "Session: connected to PE $00002001",
        "sent the queued line(s) #1, #2 to PE $00002001",
        "from PE $00002001> hello",
        "from PE $00002001> world",
    ]
