"""Kernel SCTP through our Trio API versus a plain blocking loop on the same socket.

Two namespace hosts joined by one veth link (198.51.100.1 <-> .2). Host B runs a blocking echo
thread on a one-to-many socket; host A holds one association to it through
``rserpool.transport.kernel.KernelEndpoint``. With 100-byte messages we measure, in the same
run and over the same socket and association:

* ping-pong: round trips per second and the median round-trip time;
* pipelined: messages per second with up to WINDOW echoes outstanding.

Run: ``.venv/bin/python bench/bench_transport.py`` where the kernel has SCTP and we are root,
or ``.venv/bin/python bench/bench_transport.py --guest`` to boot the test guest for it. A
script, not a test: it prints, and nothing is timed against a limit.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PAYLOAD = bytes(100)
PORT = 3863
WINDOW = 16


def echo_server(sock: socket.socket) -> None:
    from rserpool.transport import _sockapi as api

    while True:
        try:
            data, ancillary, flags, _ = sock.recvmsg(65536, api.RCVINFO_CMSG_SPACE)
        except OSError:
            return
        if flags & api.MSG_NOTIFICATION or not ancillary:
            continue
        fields = api.RCVINFO.unpack_from(ancillary[0][2])
        info = api.SNDINFO.pack(fields[0], 0, fields[3], 0, fields[7])  # ppid stays as received
        sock.sendmsg([data], [(api.IPPROTO_SCTP, api.SCTP_SNDINFO, info)])


def report(name: str, count: int, took: float, rtts: list[float] | None = None) -> dict[str, float]:
    result = {"msgs_per_s": count / took}
    line = f"{name:<28} {count / took:9.0f} msgs/s"
    if rtts:
        result["median_rtt_ms"] = statistics.median(rtts) * 1000
        line += f"   median RTT {result['median_rtt_ms']:.3f} ms"
    print(line, flush=True)
    return result


async def trio_side(endpoint: object, assoc_id: int, count: int) -> dict[str, dict[str, float]]:
    import trio

    from rserpool.transport import SctpMessage
    from rserpool.transport.kernel import KernelEndpoint

    assert isinstance(endpoint, KernelEndpoint)

    async def reply() -> None:
        while not isinstance(await endpoint.receive(), SctpMessage):
            pass

    rtts = []
    start = time.perf_counter()
    for _ in range(count):
        t0 = time.perf_counter()
        await endpoint.send(assoc_id, PAYLOAD, 11)
        await reply()
        rtts.append(time.perf_counter() - t0)
    pingpong = report("trio API   ping-pong", count, time.perf_counter() - start, rtts)

    start = time.perf_counter()
    async with trio.open_nursery() as nursery:
        window = trio.Semaphore(WINDOW)

        async def receiver() -> None:
            for _ in range(count):
                await reply()
                window.release()

        nursery.start_soon(receiver)
        for _ in range(count):
            await window.acquire()
            await endpoint.send(assoc_id, PAYLOAD, 11)
    pipelined = report(f"trio API   window {WINDOW}", count, time.perf_counter() - start)
    return {"pingpong": pingpong, "pipelined": pipelined}


def blocking_side(sock: socket.socket, assoc_id: int, count: int) -> dict[str, dict[str, float]]:
    from rserpool.transport import _sockapi as api

    sock.setblocking(True)
    info = [(api.IPPROTO_SCTP, api.SCTP_SNDINFO, api.sndinfo(assoc_id, 11, 0, 0))]

    def reply() -> None:
        while sock.recvmsg(65536, api.RCVINFO_CMSG_SPACE)[2] & api.MSG_NOTIFICATION:
            pass

    rtts = []
    start = time.perf_counter()
    for _ in range(count):
        t0 = time.perf_counter()
        sock.sendmsg([PAYLOAD], info)
        reply()
        rtts.append(time.perf_counter() - t0)
    pingpong = report("blocking   ping-pong", count, time.perf_counter() - start, rtts)

    start = time.perf_counter()
    for _ in range(WINDOW):
        sock.sendmsg([PAYLOAD], info)
    for sent in range(WINDOW, count + WINDOW):
        reply()
        if sent < count:
            sock.sendmsg([PAYLOAD], info)
    pipelined = report(f"blocking   window {WINDOW}", count, time.perf_counter() - start)
    sock.setblocking(False)
    return {"pingpong": pingpong, "pipelined": pipelined}


def run(count: int) -> int:
    import trio

    from interop.topology import Topology
    from rserpool.transport import CommUp
    from rserpool.transport.kernel import KernelHost

    with Topology() as topology:
        a, b = topology.add_host("A"), topology.add_host("B")
        link = topology.link(a, b)
        with b.entered():
            server = socket.socket(socket.AF_INET, socket.SOCK_SEQPACKET, 132)
        from rserpool.transport import _sockapi as api

        api.subscribe(server)
        server.bind((link.b.address, PORT))
        server.listen(8)
        threading.Thread(target=echo_server, args=(server,), daemon=True).start()

        async def main() -> dict[str, dict[str, dict[str, float]]]:
            host = KernelHost([link.a.address], a.entered)
            endpoint = await host.sctp_endpoint()
            assoc_id = await endpoint.connect([(link.b.address, PORT)])
            while not isinstance(await endpoint.receive(), CommUp):
                pass
            results = {}
            for rnd in range(2):  # alternate, so that neither side gets the warm cache only
                print(f"-- round {rnd + 1}, {count} messages of {len(PAYLOAD)} bytes", flush=True)
                results["trio"] = await trio_side(endpoint, assoc_id, count)
                results["blocking"] = blocking_side(endpoint._sock, assoc_id, count)
            await endpoint.aclose()
            return results

        results = trio.run(main)
        server.close()
    ratio: Callable[[str, str], float] = lambda kind, key: (  # noqa: E731
        results["blocking"][kind][key] / results["trio"][kind][key]
    )
    rtt = (
        results["trio"]["pingpong"]["median_rtt_ms"]
        / results["blocking"]["pingpong"]["median_rtt_ms"]
    )
    print(
        f"overhead of the Trio API (last round): ping-pong {ratio('pingpong', 'msgs_per_s'):.2f}x"
        f" fewer msgs/s, median RTT {rtt:.2f}x; pipelined "
        f"{ratio('pipelined', 'msgs_per_s'):.2f}x fewer msgs/s",
        flush=True,
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--guest", action="store_true", help="run inside the test guest")
    parser.add_argument("--count", type=int, default=2000)
    args = parser.parse_args()
    if args.guest:
        from interop.capabilities import Capabilities

        if not Capabilities.probe().native:
            from interop.guest import Guest

            rwdir = REPO / "build" / "bench"
            command = f"python bench/bench_transport.py --count {args.count}"
            return Guest(rwdir).run(command).returncode
    return run(args.count)


if __name__ == "__main__":
    sys.exit(main())
