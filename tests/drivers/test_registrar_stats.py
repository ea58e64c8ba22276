"""The registrar's statistics document and refusal lines, after real traffic on the in-memory
network; the statistics writer of ``rserpool registrar`` (file, SIGUSR1, standard output)."""

from __future__ import annotations

import json
import logging
import os
import signal
from pathlib import Path

import pytest
import trio
import trio.testing

from rserpool.cli.registrar import StatisticsWriter, write_atomically
from rserpool.drivers.registrar import Registrar, serve_registrar
from rserpool.proto.registrar import RegistrarConfig
from rserpool.transport import TUNED, MemoryNetwork
from rserpool.wire import (
    HandleResolution,
    HandleResolutionResponse,
    RegistrationResponse,
)
from tests.drivers.helpers import AsapClient, registration, wait_until

CONFIG = RegistrarConfig(server_id=0x101, mentor_discovery_timeout=1000, max_hr_rate=1)


def names_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def network() -> MemoryNetwork:
    net = MemoryNetwork(seed=11, latency=0.001, sctp=TUNED)
    net.add_host("pr", ["198.51.100.1"])
    net.add_host("pe", ["198.51.100.2"])
    net.add_host("local", ["127.0.0.5"])  # a PE on loopback only
    net.add_host("pu", ["198.51.100.3"])
    return net


async def traffic(nursery: trio.Nursery, net: MemoryNetwork) -> Registrar:
    """Two registrations accepted (one new, one update), two refused, three resolutions (one
    of an unknown pool, one rate-limited)."""
    registrar: Registrar = await nursery.start(serve_registrar, net.hosts["pr"], CONFIG)
    pe = await AsapClient.connect(net.hosts["pe"], [("198.51.100.1", 3863)])
    nursery.start_soon(pe.run)
    await pe.send(registration(0x2001, ["198.51.100.2"]))
    await pe.send(registration(0x2001, ["198.51.100.2"]))  # re-registration
    await pe.send(registration(0x2002, ["192.0.2.99"]))  # not an address of the association
    await pe.expect(RegistrationResponse, 3)
    local = await AsapClient.connect(net.hosts["local"], [("198.51.100.1", 3863)])
    nursery.start_soon(local.run)
    await local.send(registration(0x2003, ["127.0.0.5"]))
    await local.expect(RegistrationResponse)

    pu = await AsapClient.connect(net.hosts["pu"], [("198.51.100.1", 3863)])
    nursery.start_soon(pu.run)
    await pu.send(HandleResolution(pool_handle=b"EchoPool", items=1))
    await pu.send(HandleResolution(pool_handle=b"NoSuchPool", items=1))
    await pu.send(HandleResolution(pool_handle=b"EchoPool", items=1))  # 2 in no time: > 1/s
    await pu.expect(HandleResolutionResponse, 3)
    return registrar


async def test_statistics_document_counts_real_traffic(clock: trio.testing.MockClock) -> None:
    net = network()
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            registrar = await traffic(nursery, net)
            document = registrar.statistics_document()
            nursery.cancel_scope.cancel()
    json.dumps(document)  # JSON-ready
    assert document["registrar_id"] == "$00000101"
    assert isinstance(document["uptime_s"], float) and document["uptime_s"] >= 0
    assert document["handlespace"] == {
        "pools": 1,
        "pool_elements": 1,
        "home_pool_elements": 1,
        "ownership_checksum": document["handlespace"]["ownership_checksum"],  # type: ignore[index]
    }
    assert document["peers"] == 0
    assert document["asap"] == {
        "received": {"REGISTRATION": 4, "HANDLE_RESOLUTION": 3},
        "sent": {"REGISTRATION_RESPONSE": 4, "HANDLE_RESOLUTION_RESPONSE": 3},
    }
    assert document["registrations"] == {
        "accepted": 2,
        "new": 1,
        "re_registrations": 1,
        "refused": 2,
        "refused_by_cause": {
            "RSPLIB_NO_USABLE_USER_ADDRESSES(0xf008)": 2,
        },
    }
    assert document["handle_resolutions"] == {"answered": 1, "unknown_pool_handle": 2}
    assert document["rate_limited"] == {"Handle Resolution": 1}
    assert document["takeovers"] == {"started": 0, "completed": 0, "aborted": 0}
    assert document["internal_errors"] == 0


async def test_refusals_are_told_at_info_with_cause_addresses_and_fix(
    clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="rserpool")
    net = network()
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            await traffic(nursery, net)
            nursery.cancel_scope.cancel()
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert lines[0].startswith("Registration of PE $00002001 in EchoPool accepted (ASAP assoc ")
    refusals = [line for line in lines if "refused" in line]
    assert refusals[0].startswith(
        "Registration of PE $00002002 in EchoPool refused: "
        "RSPLIB_NO_USABLE_USER_ADDRESSES(0xf008): none of the PE's user transport addresses "
        "is one of its ASAP association's addresses of at least the minimum address scope "
        "(site-local) (ASAP assoc "
    )
    assert " from 198.51.100.2:" in refusals[0]
    assert refusals[1].startswith("Registration of PE $00002003 in EchoPool refused: ")
    assert refusals[1].endswith(
        "; the PE reaches this registrar only over loopback addresses: start the registrar "
        "with --min-address-scope loopback to accept it"
    )
    assert "127.0.0.5" in refusals[1]
    # re-registrations and resolutions are routine: not told at INFO
    assert not any("Re-registration" in line for line in lines)


async def test_sigusr1_writes_the_statistics_file_at_once(
    clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    net = network()
    path = tmp_path / "registrar.json"
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            registrar = await traffic(nursery, net)
            writer = StatisticsWriter(registrar.statistics_document, path)
            nursery.start_soon(writer.on_signal)
            await trio.sleep(0.1)  # the receiver is installed
            assert not path.exists()
            os.kill(os.getpid(), signal.SIGUSR1)
            await wait_until(path.exists)
            nursery.cancel_scope.cancel()
    document = json.loads(path.read_text())
    assert document["registrations"]["accepted"] == 2
    assert names_in(tmp_path) == ["registrar.json"]  # no temporary file left


async def test_statistics_every_interval_and_to_stdout(
    clock: trio.testing.MockClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    net = network()
    path = tmp_path / "stats.json"
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            registrar = await traffic(nursery, net)
            nursery.start_soon(StatisticsWriter(registrar.statistics_document, path).every, 1.0)
            await wait_until(path.exists)
            first = json.loads(path.read_text())["uptime_s"]
            await trio.sleep(1.5)
            StatisticsWriter(registrar.statistics_document, None).write()
            nursery.cancel_scope.cancel()
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["registrar_id"] == "$00000101"
    assert json.loads(path.read_text())["registrations"]["refused"] == 2
    assert isinstance(first, float)


def test_write_atomically_replaces_and_cleans_up(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    write_atomically(path, "one\n")
    write_atomically(path, "two\n")
    assert path.read_text() == "two\n"
    assert names_in(tmp_path) == ["s.json"]
    with pytest.raises(OSError):
        write_atomically(tmp_path / "missing" / "s.json", "x")


def test_an_unwritable_statistics_file_is_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    writer = StatisticsWriter(lambda: {"a": 1}, tmp_path / "missing" / "s.json")
    writer.write()
    writer.write()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and warnings[0].startswith("cannot write the statistics to ")
