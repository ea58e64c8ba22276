"""Fixtures for the transport tests: the same two-host, two-path network on both implementations.

``impl`` is "memory" (the in-memory network under an autojump MockClock, on the host) or
"kernel" (kernel SCTP in two network namespaces joined by two veth links; marked ``sctp``, so
it runs in the test guest). Both give host A 198.51.100.1 and 203.0.113.1 and host B
198.51.100.2 and 203.0.113.2; path 1 is 198.51.100.0/24, path 2 203.0.113.0/24 (in memory the
crossed address pairs are taken down, so that the two paths are as separate as two veth links).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import trio.testing

from rserpool.transport import TUNED, Host, MemoryNetwork
from rserpool.transport.userland import UserlandHost

IMPLEMENTATIONS = ["memory", "udp", pytest.param("kernel", marks=pytest.mark.sctp)]


@dataclass
class Pair:
    kind: str
    a: Host
    b: Host
    path_down: Callable[[int], None]
    path_up: Callable[[int], None]
    enable_multicast: Callable[[], None]

    @property
    def timeout(self) -> float:
        return 600.0 if self.kind == "memory" else 60.0


@pytest.fixture(params=IMPLEMENTATIONS)
def impl(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def clock(impl: str) -> trio.testing.MockClock | None:
    """Virtual time for the in-memory network; the kernel runs on the real clock."""
    return trio.testing.MockClock(autojump_threshold=0) if impl == "memory" else None


def udp_pair() -> Pair:
    """The userland stack over real UDP sockets on loopback: A is 127.0.1.1 and 127.0.2.1,
    B 127.0.1.2 and 127.0.2.2 (Linux answers on all of 127/8), each on its own free UDP
    port; a path goes down by dropping its datagrams in both hosts."""
    a = UserlandHost(["127.0.1.1", "127.0.2.1"], 0, params=TUNED)
    b = UserlandHost(["127.0.1.2", "127.0.2.2"], 0, params=TUNED)
    a.peer_udp_port, b.peer_udp_port = b.udp_port, a.udp_port
    paths = [("127.0.1.1", "127.0.1.2"), ("127.0.2.1", "127.0.2.2")]

    def set_path(i: int, down: bool) -> None:
        a.set_path_down(paths[i][0], paths[i][1], down)
        b.set_path_down(paths[i][1], paths[i][0], down)

    return Pair(
        "udp", a, b, lambda i: set_path(i, True), lambda i: set_path(i, False), lambda: None
    )


def memory_pair() -> Pair:
    net = MemoryNetwork(seed=1, latency=0.0005, sctp=TUNED)
    a = net.add_host("A", ["198.51.100.1", "203.0.113.1"])
    b = net.add_host("B", ["198.51.100.2", "203.0.113.2"])
    net.set_path_down("198.51.100.1", "203.0.113.2")
    net.set_path_down("203.0.113.1", "198.51.100.2")
    paths = [("198.51.100.1", "198.51.100.2"), ("203.0.113.1", "203.0.113.2")]
    return Pair(
        "memory",
        a,
        b,
        lambda i: net.set_path_down(*paths[i]),
        lambda i: net.set_path_up(*paths[i]),
        lambda: None,
    )


def kernel_pair(request: pytest.FixtureRequest) -> Pair:
    from rserpool.transport.kernel import KernelHost

    topology = request.getfixturevalue("topology")
    ta, tb = topology.add_host("A"), topology.add_host("B")
    links = [topology.link(ta, tb), topology.link(ta, tb)]

    def multicast() -> None:
        ta.route_multicast(links[0].a)
        tb.route_multicast(links[0].b)

    return Pair(
        "kernel",
        KernelHost(ta.addresses(), ta.entered),
        KernelHost(tb.addresses(), tb.entered),
        lambda i: links[i].down(),
        lambda i: links[i].up(),
        multicast,
    )


@pytest.fixture
def pair(impl: str, request: pytest.FixtureRequest) -> Iterator[Pair]:
    if impl != "udp":
        yield memory_pair() if impl == "memory" else kernel_pair(request)
        return
    made = udp_pair()
    yield made
    for host in (made.a, made.b):
        assert isinstance(host, UserlandHost)
        host.close()
