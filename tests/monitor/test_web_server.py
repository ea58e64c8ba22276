"""The web monitor's server: :func:`serve_page` on a real socket (the page, ``/state.json``, the
event stream following the table), the ASGI application's keep-alive in virtual time, and
the handlespace reader against a real registrar on the in-memory network."""

from __future__ import annotations

import argparse
import json
import re
import socket
from functools import partial
from typing import Any

import pytest
import trio
import trio.testing

from rserpool.cli.common import CommandError
from rserpool.drivers.registrar import serve_registrar
from rserpool.monitor.model import ComponentTable
from rserpool.monitor.web import MonitorApp, serve, serve_page, url_of
from rserpool.monitor.web_poll import HandlespacePoller, endpoint_text, parse_endpoint
from rserpool.proto.registrar import RegistrarConfig
from rserpool.transport import TUNED, MemoryNetwork
from rserpool.wire import RegistrationResponse
from tests.drivers.helpers import AsapClient, registration, wait_until
from tests.monitor.http import events, request
from tests.monitor.reports import pe_report, pu_report, registrar_report

SOURCE = ("127.0.0.1", 40000)


def small_system(table: ComponentTable) -> None:
    now = trio.current_time()
    for data in (
        registrar_report(0x101, status="2[2] PEs in 1 Pool(s), 0 Peer(s)"),
        pe_report(0x2001, 0x101, status='"EchoPool"'),
        pe_report(0x2002, 0x101, status='"EchoPool"'),
        pu_report(0xC0FFEE, 0x101, [0x2001]),
    ):
        table.receive(data, SOURCE, now)


def data_of(block: str) -> dict[str, Any]:
    """The snapshot in an event block ``id: R\\ndata: {...}``."""
    fields = dict(line.split(": ", 1) for line in block.splitlines())
    snapshot: dict[str, Any] = json.loads(fields["data"])
    assert fields["id"] == snapshot["revision"]
    return snapshot


async def test_the_page_and_the_snapshot(nursery: trio.Nursery) -> None:
    table = ComponentTable()
    small_system(table)
    url = await nursery.start(serve_page, table, "127.0.0.1", 0)
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", url) and not url.endswith(":0/")
    with trio.fail_after(10):
        page = await request(url)
        assert page.status == 200
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert b"<svg" in page.body and b'new EventSource("events")' in page.body
        assert not re.search(rb"(src|href)=\"?(https?:)?//", page.body)  # works offline
        state = await request(url + "state.json")
        assert state.status == 200 and state.headers["content-type"] == "application/json"
        snapshot = json.loads(state.body)
        assert snapshot["revision"] == f"{table.revision}.0"
        assert snapshot["pools"] == [
            {"name": "EchoPool", "known": True, "elements": ["PE $00002001", "PE $00002002"]}
        ]
        assert snapshot["pool_users"][0]["bound_to"] == ["PE $00002001"]
        head = await request(url, "HEAD")
        assert head.status == 200 and head.body == b""
        assert int(head.headers["content-length"]) == len(page.body)
        assert (await request(url + "nothing-here")).status == 404
        refused = await request(url + "state.json", "POST")
        assert refused.status == 405 and refused.headers["allow"] == "GET, HEAD"


async def test_the_event_stream_follows_the_table(nursery: trio.Nursery) -> None:
    table = ComponentTable()
    small_system(table)
    url = await nursery.start(serve_page, table, "127.0.0.1", 0)
    with trio.fail_after(10):
        async with events(url + "events") as stream:
            assert stream.headers["content-type"] == "text/event-stream; charset=utf-8"
            first = data_of(await stream.block())  # at once, without any change
            assert [p["id"] for p in first["pool_elements"]] == ["PE $00002001", "PE $00002002"]
            now = trio.current_time()
            table.receive(pe_report(0x2001, 0x101, final=True), SOURCE, now)
            table.receive(pu_report(0xC0FFEE, 0x101, [0x2002]), SOURCE, now)
            second = data_of(await stream.block())
            assert second["revision"] == f"{table.revision}.0" != first["revision"]
            assert [p["id"] for p in second["pool_elements"]] == ["PE $00002002"]
            assert second["pool_users"][0]["bound_to"] == ["PE $00002002"]


async def test_a_taken_port_is_an_os_error(nursery: trio.Nursery) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError):
            await nursery.start(serve_page, ComponentTable(), "127.0.0.1", port)


async def test_the_command_entry(nursery: trio.Nursery, capsys: pytest.CaptureFixture[str]) -> None:
    """``serve(args, table)``, as ``rserpool monitor --web`` calls it: the URL on standard
    error; a taken port is one line naming the option."""
    args = argparse.Namespace(web=("127.0.0.1", 0), registrars=[])
    url = await nursery.start(serve, args, ComponentTable())
    assert capsys.readouterr().err == f"rserpool monitor: the web page is at {url}\n"
    port = int(url.rsplit(":", 1)[1].rstrip("/"))
    with pytest.raises(CommandError) as failed:
        await nursery.start(serve, argparse.Namespace(web=("127.0.0.1", port)), ComponentTable())
    assert str(failed.value) == (
        f"--web 127.0.0.1:{port}: address already in use (Address already in use): "
        "is another instance running?"
    )


def test_urls() -> None:
    assert url_of("127.0.0.1", 8080) == "http://127.0.0.1:8080/"
    assert url_of("::1", 8080) == "http://[::1]:8080/"
    assert endpoint_text(parse_endpoint("198.51.100.1")) == "198.51.100.1:9901"
    assert endpoint_text(parse_endpoint("2001:db8::1,198.51.100.1")) == (
        "[2001:db8::1],198.51.100.1:9901"
    )


async def test_keep_alive_when_nothing_changes(autojump_clock: trio.testing.MockClock) -> None:
    """The application alone, in virtual time: a snapshot at once, a comment line after 15 s
    of quiet, a snapshot within one check interval of a change, and the end at disconnect."""
    table = ComponentTable()
    app = MonitorApp(table)
    sent: list[tuple[float, dict[str, Any]]] = []
    gone = trio.Event()

    async def receive() -> dict[str, Any]:
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        sent.append((trio.current_time(), dict(message)))

    scope = {"type": "http", "path": "/events", "method": "GET"}
    start = trio.current_time()
    with trio.fail_after(100):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(app, scope, receive, send)
            await trio.sleep(20)
            table.receive(registrar_report(0x101), SOURCE, trio.current_time())
            await trio.sleep(1)
            gone.set()
    assert sent[0][1]["type"] == "http.response.start" and sent[0][1]["status"] == 200
    bodies = [(round(t - start, 2), m["body"]) for t, m in sent[1:]]
    assert bodies[0][0] == 0 and bodies[0][1].startswith(b"id: 0.0\ndata: {")
    assert bodies[1] == (15.0, b": keep-alive\n\n")
    assert 20 <= bodies[2][0] <= 20.15 and bodies[2][1].startswith(b"id: 1.0\ndata: {")
    assert len(bodies) == 3


async def test_the_handlespace_reader_against_a_registrar(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """One association, one peer entry at the registrar, a read every interval; a change
    counted only when the picture changes; a registrar gone is an error, and its pools go
    after three intervals."""
    net = MemoryNetwork(seed=7, latency=0.001, sctp=TUNED)
    net.add_host("pr", ["198.51.100.1"])
    net.add_host("pe", ["198.51.100.2"])
    net.add_host("monitor", ["198.51.100.9"])
    config = RegistrarConfig(server_id=0x101, mentor_discovery_timeout=1000)
    poller = HandlespacePoller(
        net.hosts["monitor"], [parse_endpoint("198.51.100.1")], interval=3.0, timeout=2.0
    )
    name = "198.51.100.1:9901"
    assert poller.polls[name].dump is None and poller.revision == 0
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            registrar_scope = trio.CancelScope()

            async def registrar_until_cancelled(task_status: Any) -> None:
                with registrar_scope:
                    await serve_registrar(net.hosts["pr"], config, task_status=task_status)

            registrar = await nursery.start(registrar_until_cancelled)
            pe = await AsapClient.connect(net.hosts["pe"], [("198.51.100.1", 3863)])
            nursery.start_soon(pe.run)
            await pe.send(registration(0x2001, ["198.51.100.2"]))
            await pe.expect(RegistrationResponse)

            nursery.start_soon(poller.run)
            await wait_until(lambda: poller.polls[name].dump)
            first = poller.polls[name]
            assert first.error == "" and first.dump is not None
            assert first.dump.registrar_id == 0x101
            assert [s.server_id for s in first.dump.peers or ()] == [poller.sender_id]
            assert list(first.dump.pools[b"EchoPool"]) == [0x2001]
            assert poller.revision == 1

            await trio.sleep(20)  # six more reads, all alike: no redraw, one peer entry
            latest = poller.polls[name]
            assert latest.dump is not first.dump and latest.error == "" and poller.revision == 1
            assert latest.taken_at is not None and trio.current_time() - latest.taken_at < 3.1
            assert [p.server_id for p in registrar.core.peers()] == [poller.sender_id]

            await pe.send(registration(0x2002, ["198.51.100.2"], port=7001))
            await pe.expect(RegistrationResponse, 2)
            await wait_until(lambda: poller.revision == 2)
            dump = poller.polls[name].dump
            assert dump is not None and sorted(dump.pools[b"EchoPool"]) == [0x2001, 0x2002]

            registrar_scope.cancel()
            await wait_until(lambda: poller.polls[name].error != "")
            assert poller.polls[name].dump is dump and poller.revision == 3  # kept a while
            await wait_until(lambda: poller.polls[name].dump is None)
            assert "cannot connect" in poller.polls[name].error
            settled = poller.revision
            await trio.sleep(10)  # the same failure again and again: nothing to redraw
            assert poller.revision == settled
            nursery.cancel_scope.cancel()


async def test_serve_with_a_registrar_draws_its_pools(nursery: trio.Nursery) -> None:
    """``serve_page`` given a registrar: its pools and PEs appear on /state.json though nothing
    reports over CSP (the registrar and PE on the in-memory network, HTTP on a real socket)."""
    net = MemoryNetwork(seed=3, latency=0.001, sctp=TUNED)
    net.add_host("pr", ["198.51.100.1"])
    net.add_host("pe", ["198.51.100.2"])
    net.add_host("monitor", ["198.51.100.9"])
    config = RegistrarConfig(server_id=0x101, mentor_discovery_timeout=1000)
    with trio.fail_after(20):
        await nursery.start(serve_registrar, net.hosts["pr"], config)
        pe = await AsapClient.connect(net.hosts["pe"], [("198.51.100.1", 3863)])
        nursery.start_soon(pe.run)
        await pe.send(registration(0x2001, ["198.51.100.2"]))
        await pe.expect(RegistrationResponse)
        url = await nursery.start(
            partial(serve_page, sctp_host=net.hosts["monitor"], poll_interval=0.5),
            ComponentTable(), "127.0.0.1", 0, [parse_endpoint("198.51.100.1")],
        )  # fmt: skip
        snapshot: dict[str, Any] = {"pools": []}
        while not snapshot["pools"]:
            await trio.sleep(0.1)
            snapshot = json.loads((await request(url + "state.json")).body)
    assert snapshot["pools"] == [{"name": "EchoPool", "known": True, "elements": ["PE $00002001"]}]
    (element,) = snapshot["pool_elements"]
    assert element["home"] == "PR $00000101" and element["registered"]
    assert not element["reported"] and element["location"] == "SCTP 198.51.100.2:7000 data+ctrl"
    assert [r["id"] for r in snapshot["registrars"]] == ["PR $00000101"]  # not the monitor
    assert snapshot["peerings"] == [] and snapshot["components"] == []
    (read,) = snapshot["handlespaces"]
    assert read["endpoint"] == "198.51.100.1:9901" and read["registrar"] == "PR $00000101"
    assert read["error"] == "" and read["pool_elements"] == 1
