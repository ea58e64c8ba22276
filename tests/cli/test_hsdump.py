"""``rserpool hsdump``: its usage errors (exact line, exit status 2), the run without kernel
SCTP, and ``--json`` against a registrar on the in-memory network."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator

import pytest
import trio
import trio.testing

from rserpool.cli import build_parser, main
from rserpool.cli import hsdump as cli_hsdump
from rserpool.cli.common import NO_SCTP_HINT
from rserpool.drivers.registrar import Registrar, serve_registrar
from rserpool.proto.registrar import RegistrarConfig
from rserpool.transport import TUNED, MemoryNetwork
from rserpool.wire import RegistrationResponse
from tests.drivers.helpers import AsapClient, registration

PROG = "rserpool hsdump"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """``common.run`` installs its own handler on the root logger; put pytest's back."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


def usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(["hsdump", *argv])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    prefix, suffix = f"{PROG}: error: ", f" (see {PROG} --help)\n"
    assert captured.err.startswith(prefix) and captured.err.endswith(suffix), captured.err
    return captured.err[len(prefix) : -len(suffix)]


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        ([], "the following arguments are required: REGISTRAR"),
        (["not-an-address"], "argument REGISTRAR: not an IP address: 'not-an-address'"),
        (["0.0.0.0"], "argument REGISTRAR: '0.0.0.0': 0.0.0.0 is no address to connect to"),
        (["198.51.100.1:0"],
         "argument REGISTRAR: bad port '0' in '198.51.100.1:0' (a port is 1-65535)"),
        (["198.51.100.1:99999"],
         "argument REGISTRAR: bad port '99999' in '198.51.100.1:99999' (a port is 1-65535)"),
        (["239.0.0.51"],
         "argument REGISTRAR: '239.0.0.51': 239.0.0.51 is a multicast address, not one of an "
         "SCTP endpoint"),
        (["198.51.100.1", "--timeout", "0"], "argument --timeout: must be more than 0, not 0"),
        (["198.51.100.1", "--timeout=-1"], "argument --timeout: must be more than 0, not -1"),
        (["198.51.100.1", "--timeout", "nan"], "argument --timeout: not a finite number: 'nan'"),
        (["198.51.100.1", "--timeout", "inf"], "argument --timeout: not a finite number: 'inf'"),
    ],
)  # fmt: skip
def test_bad_arguments_are_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], line: str
) -> None:
    assert usage_error(capsys, *argv) == line


def test_without_kernel_sctp_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """No kernel SCTP: the hint, exit 1. With SCTP (nothing listens on 127.0.0.1:9901 in a
    test run): the association fails, also one line and exit 1."""
    try:
        socket.socket(socket.AF_INET, socket.SOCK_SEQPACKET, socket.IPPROTO_SCTP).close()
        has_sctp = True
    except OSError:
        has_sctp = False
    assert main(["hsdump", "127.0.0.1", "--timeout", "10", "--transport", "kernel"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    if not has_sctp:
        assert captured.err == f"{PROG}: error: {NO_SCTP_HINT}\n"
    else:
        assert captured.err.startswith(f"{PROG}: error: ")


async def test_json_dump_of_a_registrar(
    clock: trio.testing.MockClock, capsys: pytest.CaptureFixture[str]
) -> None:
    net = MemoryNetwork(seed=5, latency=0.001, sctp=TUNED)
    net.add_host("pr", ["198.51.100.1", "203.0.113.1"])
    net.add_host("pe", ["198.51.100.2"])
    config = RegistrarConfig(server_id=0x101, mentor_discovery_timeout=1000)
    args = build_parser().parse_args(["hsdump", "198.51.100.1", "--json"])
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            registrar: Registrar = await nursery.start(serve_registrar, net.hosts["pr"], config)
            pe = await AsapClient.connect(net.hosts["pe"], [("198.51.100.1", 3863)])
            nursery.start_soon(pe.run)
            await pe.send(registration(0x2001, ["198.51.100.2"]))
            await pe.expect(RegistrationResponse)
            assert await cli_hsdump.main(args, host=net.hosts["pe"]) == 0
            checksum = registrar.core.handlespace.ownership_checksum(0x101)
            nursery.cancel_scope.cancel()
    document = json.loads(capsys.readouterr().out)
    assert document["registrar"] == "198.51.100.1:9901"
    assert document["registrar_id"] == "$00000101"
    assert document["complete"] is True and document["handle_table_rejected"] is False
    assert document["pool_count"] == 1 and document["pe_count"] == 1
    assert [p["this_hsdump"] for p in document["peer_list"]] == [True]
    (pool,) = document["pools"]
    assert pool["pool_handle"] == "EchoPool" and pool["pool_handle_hex"] == b"EchoPool".hex()
    (pe_doc,) = pool["pool_elements"]
    assert pe_doc["pe_id"] == "$00002001" and pe_doc["home_registrar_id"] == "$00000101"
    assert pe_doc["registration_life_ms"] == 90_000
    assert pe_doc["policy"]["type"] == "ROUND_ROBIN"
    assert pe_doc["user_transport"] == {
        "protocol": "SCTP",
        "addresses": ["198.51.100.2"],
        "port": 7000,
        "transport_use": "data+control",
    }
    assert pe_doc["asap_transport"]["addresses"] == ["198.51.100.2"]
    assert pe_doc["checksum"].startswith("0x")
    assert document["ownership_checksums"] == [
        {"home_registrar_id": "$00000101", "checksum": f"{checksum:#06x}", "pe_count": 1}
    ]
