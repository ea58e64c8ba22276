"""Failover time of a PingPong pool user: ours (``rserpool pingpong``) next to RSPLIB's
``pingpongclient``, with the same PEs, registrar and SCTP timers; and session messages/s.

Hosts (network namespaces, the harness's tuned SCTP profile): ``pu`` runs rspregistrar and the
client, ``pe1`` and ``pe2`` run ``rspserver -pingpong``, each PE with one veth link to ``pu``
(so that every address a PE registers is reachable: an unreachable first address costs an
INIT timeout, RTO.initial, which RSPLIB sets to 2 s on sessions and we leave to the system).
Each round starts a client with a Ping every INTERVAL ms, waits for its 5th Ack, kills
(SIGKILL) the PE that answered it, and measures the time from the kill to the first Ack from
the other PE, as seen by polling the client's output every 10 ms. Then the killed PE is
started again for the next round. The PE's kernel ABORTs the session association when its
process dies, so this measures the pool user's reaction (Handle Resolution, connect, Cookie
Echo), not failure detection.

Messages/s: ``rserpool pingpong --interval 0`` (one Ping outstanding at a time).

Run: ``.venv/bin/python bench/bench_failover.py --guest`` (boots the test guest) or, where the
kernel has SCTP and we are root, without ``--guest``. Prints; nothing is timed against a limit.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

INTERVAL = 100  # ms between Pings
ACK = re.compile(r"Ack #(?P<n>\d+) from PE \$(?P<pe>[0-9a-fA-F]{8})")


def acks(text: str) -> list[tuple[int, int]]:
    return [(int(m["n"]), int(m["pe"], 16)) for m in ACK.finditer(text)]


def run(rounds: int, count: int) -> int:
    from interop import rsplib
    from interop.processes import Process
    from interop.topology import Topology

    out = Path(__import__("os").environ.get("RSERPOOL_BENCH_OUT", REPO / "build" / "bench"))
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, list[float]] = {"rserpool pingpong": [], "RSPLIB pingpongclient": []}
    with Topology() as topology:
        pu = topology.add_host("pu")
        pes = [topology.add_host("pe1"), topology.add_host("pe2")]
        pe_at = {}
        for pe in pes:  # every PE address is reachable from the PU: no INIT goes astray
            link = topology.link(pu, pe)
            pe_at[pe.name] = f"{link.a.address}:{rsplib.ASAP_PORT}"
        at = next(iter(pe_at.values()))
        registrar = rsplib.registrar(pu, out, identifier=0x101)

        def start_pe(n: int) -> Process:
            host = pes[n - 1]
            server = rsplib.server(host, out, pe_at[host.name], service="pingpong",
                                   pool_handle="PingPongPool", identifier=0x2000 + n,
                                   name=f"rspserver-{n}-{time.monotonic_ns()}")  # fmt: skip
            server.wait_for(rsplib.PE_REGISTERED, timeout=120)
            return server

        servers = {1: start_pe(1), 2: start_pe(2)}
        clients = {
            "rserpool pingpong": [sys.executable, "-u", "-m", "rserpool", "pingpong",
                                  f"--registrar={at}", f"--interval={INTERVAL}"],
            "RSPLIB pingpongclient": ["stdbuf", "-oL", "pingpongclient", f"-registrar={at}",
                                      f"-interval={INTERVAL}"],
        }  # fmt: skip
        for r in range(rounds):
            for name, argv in clients.items():
                client = Process(pu, argv, out / f"client-{r}-{name.split()[1]}.log")
                client.wait_for(r"Ack #5 from PE", timeout=180)
                _, victim_id = acks(client.output())[-1]
                victim = victim_id - 0x2000
                killed = time.monotonic()
                servers[victim].kill()
                took = None
                while time.monotonic() - killed < 60:
                    if any(pe != victim_id for _, pe in acks(client.output())):
                        took = time.monotonic() - killed
                        break
                    time.sleep(0.01)
                client.stop()
                servers[victim] = start_pe(victim)
                if took is not None:
                    results[name].append(took * 1000)
                print(f"round {r + 1} {name}: failover {took and took * 1000:.0f} ms", flush=True)

        fast = Process(pu, [sys.executable, "-u", "-m", "rserpool", "pingpong",
                            f"--registrar={at}", "--interval=0", f"--count={count}"],
                       out / "rate.log")  # fmt: skip
        fast.wait_for(r"Ack #1 from", timeout=180)
        first = time.monotonic()
        fast.wait_for(rf"Ack #{count} from", timeout=600)
        rate = (count - 1) / (time.monotonic() - first)
        fast.stop()
        for server in servers.values():
            server.stop()
        registrar.stop()

    print("\nFailover time, PE killed -> first Ack from the other PE (ms; QEMU TCG guest):")
    for name, times in results.items():
        if times:
            median = statistics.median(times)
            print(f"  {name:24} median {median:6.0f}  min {min(times):6.0f}  "
                  f"max {max(times):6.0f}  ({len(times)} rounds)")  # fmt: skip
        else:
            print(f"  {name:24} no failover measured")
    print(
        f"\nSession messages/s, rserpool pingpong --interval 0: {rate:.0f} Ping-Pong round trips/s"
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--guest", action="store_true", help="run inside the test guest")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--count", type=int, default=300)
    args = parser.parse_args()
    if args.guest:
        from interop.capabilities import Capabilities

        if not Capabilities.probe().native:
            from interop.guest import Guest

            rwdir = REPO / "build" / "bench"
            command = (
                f"{sys.executable} bench/bench_failover.py --rounds {args.rounds} "
                f"--count {args.count}"
            )
            env = {"RSERPOOL_BENCH_OUT": str(rwdir)}
            return Guest(rwdir).run(command, env).returncode
    return run(args.rounds, args.count)


if __name__ == "__main__":
    sys.exit(main())
