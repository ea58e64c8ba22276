"""``rserpool server``: every bad option is one line naming the option (exit status 2); the
real command on this machine (no kernel SCTP here: exactly one line saying so, exit status 1);
the server hunt told step by step and ``--timeout`` on the in-memory network."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
import trio

from rserpool.cli import main
from rserpool.cli.common import NO_SCTP_HINT, CommandError
from rserpool.cli.server import server_main
from rserpool.drivers.registrar import serve_registrar
from rserpool.proto.registrar import RegistrarConfig
from tests.cli.helpers import leaves, matching, network, parse, said, tell_info

USAGE = "(see rserpool server --help)"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--registrar", "1.2.3.4:99999"],
         "argument --registrar: bad port '99999' in '1.2.3.4:99999' (a port is 1-65535)"),
        (["-registrar=1.2.3.4:0"],
         "argument -registrar: bad port '0' in '1.2.3.4:0' (a port is 1-65535)"),
        (["--registrar", "1.2.3.4:"], "argument --registrar: no port after ':' in '1.2.3.4:'"),
        (["--registrar", "registrar.example:3863"],
         "argument --registrar: not an IP address: 'registrar.example' in "
         "'registrar.example:3863'"),
        (["--registrar", "1.2.3.4:3863,0.0.0.0"],
         "argument --registrar: '1.2.3.4:3863,0.0.0.0': 0.0.0.0 is no address to connect to"),
        (["--registrar", "1.2.3.4,1.2.3.4"],
         "argument --registrar: '1.2.3.4,1.2.3.4': an address is given twice"),
        (["--local", "bogus"], "argument --local: not an IP address: 'bogus'"),
        (["--local", "1.2.3.4:99999"],
         "argument --local: bad port '99999' in '1.2.3.4:99999' (a port is 0-65535)"),
        (["-local=0.0.0.0,192.0.2.1:7000"],
         "argument -local: '0.0.0.0,192.0.2.1:7000': 0.0.0.0 means every address of this host "
         "and cannot be combined with other addresses"),
        (["--pool-handle="], "argument --pool-handle: a pool handle cannot be empty (1 to 32 "
         "bytes)"),
        (["-poolhandle="], "argument -poolhandle: a pool handle cannot be empty (1 to 32 bytes)"),
        (["--pool-handle", "P" * 33],
         f"argument --pool-handle: '{'P' * 33}' is 33 bytes long; a pool handle has at most 32 "
         "bytes (UTF-8), RSPLIB's registrar refuses longer ones"),
        (["--pool-handle", "ä" * 17],  # 17 characters, 34 bytes in UTF-8
         f"argument --pool-handle: '{'ä' * 17}' is 34 bytes long; a pool handle has at most 32 "
         "bytes (UTF-8), RSPLIB's registrar refuses longer ones"),
        (["--rereg-interval", "5"], "argument --rereg-interval: must be at least 10, not 5"),
        (["-rereginterval=nan"], "argument -rereginterval: not a number: 'nan'"),
        (["--rereg-interval", "2000000000"],
         "argument --rereg-interval: must be at most 1.43166e+09, not 2000000000"),
        (["--runtime", "-1"], "argument --runtime: must be at least 0, not -1"),
        (["--ppp-failure-after", "-2"], "argument --ppp-failure-after: must be at least 0, not -2"),
        (["--identifier", "0x1ffffffff"],
         "argument --identifier: identifier out of range: '0x1ffffffff'"),
        (["-identifier=x"], "argument -identifier: not an identifier: 'x'"),
        (["--policy", "Nonsense"], "argument --policy: unknown policy 'Nonsense'"),
        (["--asap-announce", "10.0.0.1"],
         "argument --asap-announce: not a multicast address: '10.0.0.1' (give auto, off or a "
         "group such as 239.0.0.50:3863)"),
        (["--timeout", "-1"], "argument --timeout: must be at least 0, not -1"),
        (["--timeout", "inf"], "argument --timeout: not a finite number: 'inf'"),
        (["--echo", "--daytime"], "argument --daytime: not allowed with argument --echo"),
    ],
)  # fmt: skip
def test_bad_options(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["server", *argv])
    assert exit_info.value.code == 2
    out, err = capsys.readouterr()
    assert err == f"rserpool server: error: {message} {USAGE}\n"
    assert out == ""


def test_rsplib_spellings_and_defaults() -> None:
    args = parse(["server", "-registrar=198.51.100.1", "-registrar=[2001:db8::1]:9000",
                  "-local=0.0.0.0:7000", "-runtime=500", "-pingpong"])  # fmt: skip
    assert [str(r) for r in args.registrar] == ["198.51.100.1:3863", "[2001:db8::1]:9000"]
    assert args.local == ([], 7000)
    assert args.runtime == 500 and args.service == "pingpong" and args.pool_handle is None
    assert args.timeout == 0 and args.asap_announce == ("239.0.0.50", 3863)
    assert parse(["server", "--asap-announce=off"]).asap_announce is None
    assert parse(["server", "--pool-handle", "ä" * 16]).pool_handle == "ä" * 16  # 32 bytes


def test_help_shows_every_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["server", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    for text in ("(default: 30000)", "default RoundRobin", "port 3863 if none is given",
                 "default 0: wait for ever", "default 0: random", "default 0: run until",
                 "-v, --verbose", "--log-level"):  # fmt: skip
        assert text in out


def kernel_has_sctp() -> bool:
    try:
        socket.socket(socket.AF_INET, socket.SOCK_SEQPACKET, socket.IPPROTO_SCTP).close()
    except OSError:
        return False
    return True


def test_the_real_command_on_this_machine() -> None:
    """No kernel SCTP: exactly the one line that says so, exit status 1. With kernel SCTP, the
    hunt for a registrar that is not there ends with ``--timeout``'s one line instead."""
    done = subprocess.run(
        [sys.executable, "-m", "rserpool", "server", "--registrar", "127.0.0.1:3863",
         "--timeout", "3", "--transport", "kernel"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    if not kernel_has_sctp():
        assert done.stderr == f"rserpool server: error: {NO_SCTP_HINT}\n"
    else:
        assert done.stderr.count("\n") == 1
        assert done.stderr.startswith("rserpool server: error: ")
        assert (
            "no registrar answered within 3 s (tried 127.0.0.1:3863" in done.stderr
            or "no address of at least site-local scope" in done.stderr
        )


def test_a_bad_option_in_a_subprocess_is_one_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "rserpool", "server", "--registrar", "1.2.3.4:99999"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == (
        "rserpool server: error: argument --registrar: bad port '99999' in '1.2.3.4:99999' "
        f"(a port is 1-65535) {USAGE}\n"
    )
    assert done.stdout == ""


async def test_no_registrar_every_attempt_told_then_timeout(
    autojump_clock: trio.abc.Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing listens at the registrar's address: each try, its failure and the wait are
    told; after ``--timeout 25`` one line says what was tried (at 0 s and at 10 s)."""
    tell_info(caplog)
    net = network()
    args = parse(["server", "--registrar", "198.51.100.1", "--asap-announce=off",
                  "--identifier=0x2001", "--timeout=25"])  # fmt: skip
    with pytest.raises(BaseException) as info:
        await server_main(args, net.hosts["pe"])
    (error,) = leaves(info.value)
    assert isinstance(error, CommandError)
    assert str(error) == (
        "no registrar answered within 25 s (tried 198.51.100.1:3863 twice: connection refused)"
    )
    lines = said(caplog)
    assert lines[:8] == [
        "rserpool server: echo service, pool EchoPool",
        "PE $00002001: user transport (where pool users connect) 198.51.100.11:49152",
        "Server hunt: looking for a home registrar (1 known: static ones (--registrar, or "
        "127.0.0.1 over UDP on loopback) and Server Announces)",
        "Server hunt: connecting to registrar 198.51.100.1:3863, a static registrar",
        "Server hunt: registrar 198.51.100.1:3863 failed: connection refused",
        "Server hunt: no registrar reachable now: trying again in 10 s",
        "Server hunt: connecting to registrar 198.51.100.1:3863 again (try 2), a static registrar",
        "Server hunt: registrar 198.51.100.1:3863 failed: connection refused",
    ]
    assert lines[8] == "Server hunt: no registrar reachable now: trying again in 20 s"
    assert lines[-1] == (
        "PE $00002001 stopped before any registrar accepted it (nothing to deregister)"
    )


async def test_unreachable_registrar_times_out(
    autojump_clock: trio.abc.Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """An address nobody has: no answer to INIT, the connect attempt times out (7.5 s)."""
    tell_info(caplog)
    net = network()
    net.set_loss(1.0, "198.51.100.11", "198.51.100.1")  # every INIT is lost
    args = parse(["server", "--registrar", "198.51.100.1:3863", "--asap-announce=off",
                  "--timeout=9"])  # fmt: skip
    with pytest.raises(BaseException) as info:
        await server_main(args, net.hosts["pe"])
    (error,) = leaves(info.value)
    assert isinstance(error, CommandError)
    assert str(error) == (
        "no registrar answered within 9 s (tried 198.51.100.1:3863 once: timed out (7.5 s))"
    )
    assert matching(said(caplog), "failed: timed out") == [
        "Server hunt: registrar 198.51.100.1:3863 failed: timed out (7.5 s)"
    ]


async def test_timeout_ends_when_registered(
    autojump_clock: trio.abc.Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """The registrar starts 5 s late: the PE registers at its second try, --timeout 30 is
    satisfied, --runtime ends it and it deregisters."""
    tell_info(caplog)
    net = network()
    args = parse(["server", "--registrar", "198.51.100.1:3863", "--asap-announce=off",
                  "--identifier=0x2001", "--timeout=30", "--runtime=60000"])  # fmt: skip
    async with trio.open_nursery() as nursery:

        async def registrar_later() -> None:
            await trio.sleep(5)
            config = RegistrarConfig(server_id=0x101, mentor_discovery_timeout=1000)
            await nursery.start(serve_registrar, net.hosts["pr"], config)

        nursery.start_soon(registrar_later)
        assert await server_main(args, net.hosts["pe"]) == 0
        nursery.cancel_scope.cancel()
    lines = said(caplog)
    assert matching(lines, "^Registration: ") == [
        "Registration: PE $00002001 in EchoPool accepted by the registrar at 198.51.100.1:3863"
    ]
    assert matching(lines, "again \\(") == [
        "Server hunt: connecting to registrar 198.51.100.1:3863 again (try 2), a static registrar"
    ]
    assert matching(lines, "^Deregistration: ") == [
        "Deregistration: PE $00002001 left the pool (confirmed)"
    ]
