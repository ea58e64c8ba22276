"""Our SCTP over UDP against Linux's kernel SCTP, in the test guest (kernel SCTP lives there).

Four network namespaces: ``sink`` (kernel SCTP with RFC 6951 encapsulation on: it takes SCTP
over UDP port 9899 and plain SCTP alike) and three senders, each joined to it by a veth link:

* ``plain``: kernel SCTP without encapsulation: the kernel as everyone knows it;
* ``kudp``: kernel SCTP with encapsulation: kernel <-> kernel over UDP, the anchor;
* ``ours``: :class:`rserpool.transport.userland.UserlandHost`, our stack over UDP.

Each sender sends 100-byte messages on one association for ``--seconds`` (kernel senders with
SCTP_NODELAY, as ours sends at once too), then an end marker; the sink counts what arrived
and when. CPU is the sending thread's (``time.thread_time``): for the kernel that includes the
SCTP work done in its system calls, for ours the whole stack. Rounds alternate the senders.

Run: ``.venv/bin/python bench/bench_sctp_guest.py`` (boots the test guest unless this machine
has kernel SCTP and we are root). A script, not a test: it prints a table of medians.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PORT = 5001
SIZE = 100
END_PPID = 99
SCTP_NODELAY = 3
SENDERS = ("plain", "kudp", "ours")


@dataclass
class Arrivals:
    count: int = 0
    first: float = 0.0
    last: float = 0.0
    done: threading.Event | None = None


def sink(listener: socket.socket, arrivals: dict[str, Arrivals], names: dict[str, str]) -> None:
    """Accept one association per round and count its messages until the end marker."""
    from rserpool.transport import _sockapi as api

    while True:
        try:
            conn, peer = listener.accept()
        except OSError:
            return
        record = arrivals[names[peer[0]]]
        with conn:
            while True:
                data, ancillary, flags, _ = conn.recvmsg(65536, api.RCVINFO_CMSG_SPACE)
                if not data:
                    break
                if flags & api.MSG_NOTIFICATION:
                    continue
                now = time.perf_counter()
                ppid = socket.ntohl(api.RCVINFO.unpack_from(ancillary[0][2])[3]) if ancillary else 0
                if ppid == END_PPID:
                    record.last = now
                    assert record.done is not None
                    record.done.set()
                    break
                if record.count == 0:
                    record.first = now
                record.count += 1


def kernel_sender(address: str, target: str, entered: object, seconds: float) -> float:
    """Send on kernel SCTP for ``seconds``; returns the thread's CPU seconds."""
    from rserpool.transport import _sockapi as api

    with entered():  # type: ignore[operator]
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_SCTP)
    sock.setsockopt(socket.IPPROTO_SCTP, SCTP_NODELAY, 1)
    sock.bind((address, 0))
    sock.connect((target, PORT))
    payload = bytes(SIZE)
    info = [(socket.IPPROTO_SCTP, api.SCTP_SNDINFO, api.sndinfo(0, 11, 0, 0))]
    cpu = time.thread_time()
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        for _ in range(64):
            sock.sendmsg([payload], info)
    sock.sendmsg(
        [b"end"], [(socket.IPPROTO_SCTP, api.SCTP_SNDINFO, api.sndinfo(0, END_PPID, 0, 0))]
    )
    used = time.thread_time() - cpu
    time.sleep(0.5)
    sock.close()
    return used


def our_sender(address: str, target: str, entered: object, seconds: float) -> float:
    import trio

    from rserpool.transport import AssociationGone
    from rserpool.transport.userland import UserlandHost

    async def main() -> float:
        host = UserlandHost([address], entered=entered)  # type: ignore[arg-type]
        assoc = await host.sctp_connect([(target, PORT)])
        payload = bytes(SIZE)
        cpu = time.thread_time()
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            for _ in range(64):
                await assoc.send(payload, 11)
        await assoc.send(b"end", END_PPID)
        used = time.thread_time() - cpu
        await trio.sleep(0.5)
        with contextlib.suppress(AssociationGone):  # the sink may have closed it already
            await assoc.shutdown()
        await trio.sleep(0.5)  # SHUTDOWN, SHUTDOWN ACK, SHUTDOWN COMPLETE
        host.close()
        return used

    return trio.run(main)


def run(rounds: int, seconds: float) -> int:
    from interop.topology import Topology

    results: dict[str, list[tuple[float, float]]] = {name: [] for name in SENDERS}
    with Topology() as topology:
        sink_host = topology.add_host("sink")
        sink_host.set_sctp_udp_encapsulation()
        hosts = {name: topology.add_host(name) for name in SENDERS}
        hosts["kudp"].set_sctp_udp_encapsulation()
        links = {name: topology.link(sink_host, host) for name, host in hosts.items()}
        names = {links[name].b.address: name for name in SENDERS}
        arrivals = {name: Arrivals() for name in SENDERS}
        with sink_host.entered():
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_SCTP)
        from rserpool.transport import _sockapi as api

        api.subscribe(listener)
        listener.bind(("0.0.0.0", PORT))
        listener.listen(8)
        threading.Thread(target=sink, args=(listener, arrivals, names), daemon=True).start()
        for rnd in range(rounds):
            order = SENDERS if rnd % 2 == 0 else tuple(reversed(SENDERS))
            for name in order:
                arrivals[name] = Arrivals(done=threading.Event())
                link = links[name]
                send = our_sender if name == "ours" else kernel_sender
                cpu = send(link.b.address, link.a.address, hosts[name].entered, seconds)
                record = arrivals[name]
                assert record.done is not None and record.done.wait(30), f"{name}: no end"
                rate = record.count / max(record.last - record.first, 1e-9)
                results[name].append((rate, cpu / max(record.count, 1) * 1e6))
                print(f"round {rnd + 1} {name:>5}: {rate:9.0f} msg/s  "
                      f"{results[name][-1][1]:7.1f} us CPU/msg", flush=True)  # fmt: skip
        listener.close()
    anchor = statistics.median(r for r, _ in results["kudp"])
    print("\nsender            100 B msg/s  CPU us/msg (sender)  x kernel<->kernel over UDP")
    labels = {
        "plain": "kernel -> kernel (plain SCTP)",
        "kudp": "kernel -> kernel (over UDP)",
        "ours": "ours -> kernel (over UDP)",
    }
    for name in SENDERS:
        rate = statistics.median(r for r, _ in results[name])
        cpu = statistics.median(c for _, c in results[name])
        print(f"{labels[name]:<32} {rate:9.0f} {cpu:12.1f} {rate / anchor:16.2f}")
    print(f"medians of {rounds} rounds of {seconds:g} s; guest under QEMU TCG (1 vCPU)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    from interop.capabilities import Capabilities

    if not Capabilities.probe().native:
        from interop.guest import Guest

        command = (
            f"python bench/bench_sctp_guest.py --rounds {args.rounds} --seconds {args.seconds}"
        )
        return Guest(REPO / "build" / "bench").run(command).returncode
    return run(args.rounds, args.seconds)


if __name__ == "__main__":
    sys.exit(main())
