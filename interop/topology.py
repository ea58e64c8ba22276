"""Test networks made of network namespaces: hosts, veth links, dummy interfaces.

Only documentation addresses are used (RFC 5737): links get /28 subnets of 198.51.100.0/24 and
203.0.113.0/24, alternating, so the two paths of a dual-homed pair are told apart at a glance
(path 1 = 198.51.100.x, path 2 = 203.0.113.x); dummy interfaces get /32s from 192.0.2.0/24.
Each namespace starts with the "tuned" SCTP profile (100 ms failover, 1 s detection under TCG;
docs/testing.md) unless told otherwise. Needs root and iproute2.

    topo = Topology()
    a, b = topo.add_host("A"), topo.add_host("B")
    link1, link2 = topo.link(a, b), topo.link(a, b)
    with b.entered():                      # sockets made here live in B
        ...
    link1.down(); link1.up()
    topo.close()
"""

from __future__ import annotations

import ctypes
import ipaddress
import itertools
import os
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

TUNED_SCTP = {
    "rto_initial": 500,
    "rto_min": 100,
    "rto_max": 500,
    "hb_interval": 1000,
    "path_max_retrans": 2,
}
LINK_NETWORKS = (ipaddress.IPv4Network("198.51.100.0/24"), ipaddress.IPv4Network("203.0.113.0/24"))
DUMMY_NETWORK = ipaddress.IPv4Network("192.0.2.0/24")
MULTICAST = "224.0.0.0/4"
SCTP_UDP_PORT = 9899  # IANA's port for SCTP over UDP (RFC 6951 §5.1)
CLONE_NEWNET = 0x40000000
_instances = itertools.count()


class TopologyError(RuntimeError):
    pass


def ip(*args: str, netns: str | None = None) -> str:
    """Run ``ip [-n netns] args``; raise TopologyError with its message on failure."""
    argv = ["ip", *(["-n", netns] if netns else []), *args]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise TopologyError(f"{' '.join(argv)}: {done.stderr.strip()}")
    return done.stdout


class Stoppable(Protocol):
    def stop(self) -> int: ...


@dataclass
class Interface:
    host: Host
    name: str
    addresses: list[ipaddress.IPv4Interface] = field(default_factory=list)

    @property
    def address(self) -> str:
        return str(self.addresses[0].ip)


@dataclass
class Host:
    """One network namespace: a machine of the test network."""

    name: str
    netns: str
    interfaces: list[Interface] = field(default_factory=list)
    processes: list[Stoppable] = field(default_factory=list)  # stopped when the topology closes

    def addresses(self) -> list[str]:
        return [str(a.ip) for i in self.interfaces for a in i.addresses]

    def exec_argv(self, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.netns, *argv]

    def run(self, *argv: str, check: bool = True, timeout: float = 60) -> str:
        done = subprocess.run(
            self.exec_argv(argv), capture_output=True, text=True, check=False, timeout=timeout
        )
        if check and done.returncode != 0:
            raise TopologyError(f"{self.name}: {' '.join(argv)}: {done.stderr.strip()}")
        return done.stdout

    def set_sctp(self, settings: Mapping[str, int]) -> None:
        """Per-namespace SCTP sysctls (net.sctp.*); they apply to sockets made afterwards."""
        self.run("sysctl", "-q", "-w", *(f"net.sctp.{k}={v}" for k, v in settings.items()))

    def set_sctp_udp_encapsulation(
        self, udp_port: int = SCTP_UDP_PORT, encap_port: int = SCTP_UDP_PORT
    ) -> None:
        """Make this namespace's kernel SCTP speak SCTP over UDP (RFC 6951; Linux >= 5.11).

        ``net.sctp.udp_port`` opens the kernel's UDP tunnel socket on that port: SCTP packets
        arriving there are decapsulated, and a packet's UDP source port becomes the
        encapsulation port of the path it came from once its verification tag checks out; an
        INIT or INIT ACK also gives it to every address it lists, and the answer to an
        out-of-the-blue packet goes back to it. ``net.sctp.encap_port`` is the remote port the
        paths of a new socket's associations start with (the socket option
        SCTP_REMOTE_UDP_ENCAPS_PORT overrides it). A packet leaves in UDP (source port
        ``udp_port``, destination its path's encapsulation port, CRC32c computed in software)
        only when both are non-zero, so a kernel that only answers needs ``udp_port`` and one
        that connects needs both; a plain SCTP packet received on a path turns encapsulation
        off for that path. Both apply to sockets created afterwards. Not for a namespace where
        a program binds the same UDP port itself (an SCTP-over-UDP stack of its own).
        """
        self.set_sctp({"udp_port": udp_port, "encap_port": encap_port})

    def route_multicast(self, interface: Interface) -> None:
        """Send 224.0.0.0/4 (registrar announces, ENRP presence) out of ``interface``."""
        ip("route", "replace", MULTICAST, "dev", interface.name, netns=self.netns)

    @contextmanager
    def entered(self) -> Iterator[None]:
        """Run the block in this namespace (this thread only): sockets made there stay there."""
        libc = ctypes.CDLL(None, use_errno=True)
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(f"/run/netns/{self.netns}", os.O_RDONLY)
        try:
            if libc.setns(target, CLONE_NEWNET) != 0:
                raise TopologyError(f"setns({self.netns}): {os.strerror(ctypes.get_errno())}")
            try:
                yield
            finally:
                libc.setns(own, CLONE_NEWNET)
        finally:
            os.close(target)
            os.close(own)


@dataclass
class Link:
    """A veth pair between two hosts: one path of a multi-homed association."""

    a: Interface
    b: Interface

    def down(self) -> None:
        ip("link", "set", self.a.name, "down", netns=self.a.host.netns)

    def up(self) -> None:
        ip("link", "set", self.a.name, "up", netns=self.a.host.netns)


class Topology:
    """Hosts and links, torn down by :meth:`close` (or ``with Topology() as topo``)."""

    def __init__(self, sctp: Mapping[str, int] | None = TUNED_SCTP) -> None:
        self.prefix = f"rsp{os.getpid() % 100000}x{next(_instances)}-"
        self.sctp = sctp
        self.hosts: dict[str, Host] = {}
        self.links: list[Link] = []
        self._subnets = [net.subnets(new_prefix=28) for net in LINK_NETWORKS]
        self._dummy_hosts = DUMMY_NETWORK.hosts()

    def __enter__(self) -> Topology:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add_host(self, name: str) -> Host:
        if name in self.hosts:
            raise TopologyError(f"host {name} exists")
        host = Host(name, self.prefix + name)
        ip("netns", "add", host.netns)
        self.hosts[name] = host
        ip("link", "set", "lo", "up", netns=host.netns)
        if self.sctp:
            host.set_sctp(self.sctp)
        return host

    def link(self, a: Host, b: Host) -> Link:
        """Join two hosts by a new veth pair, addressed .1 (a) and .2 (b) in a fresh /28."""
        index = sum(
            1 for link in self.links if {link.a.host.name, link.b.host.name} == {a.name, b.name}
        )
        subnet = next(self._subnets[index % len(self._subnets)], None)
        if subnet is None:
            raise TopologyError("documentation address space for links is used up")
        a_if = Interface(a, f"v{b.name}{index + 1}"[:15])
        b_if = Interface(b, f"v{a.name}{index + 1}"[:15])
        ip("link", "add", a_if.name, "netns", a.netns, "type", "veth",
           "peer", "name", b_if.name, "netns", b.netns)  # fmt: skip
        for iface, host_number in ((a_if, 1), (b_if, 2)):
            address = ipaddress.IPv4Interface(f"{subnet[host_number]}/{subnet.prefixlen}")
            self._configure(iface, address)
        link = Link(a_if, b_if)
        self.links.append(link)
        return link

    def add_dummy(self, host: Host, count: int = 1) -> Interface:
        """A dummy interface (multicast on) with ``count`` /32 addresses from 192.0.2.0/24."""
        iface = Interface(host, f"dummy{sum(i.name.startswith('dummy') for i in host.interfaces)}")
        ip("link", "add", iface.name, "type", "dummy", netns=host.netns)
        for _ in range(count):
            address = ipaddress.IPv4Interface(f"{next(self._dummy_hosts)}/32")
            self._configure(iface, address)
        ip("link", "set", iface.name, "multicast", "on", netns=host.netns)
        return iface

    def _configure(self, iface: Interface, address: ipaddress.IPv4Interface) -> None:
        ip("addr", "add", str(address), "dev", iface.name, netns=iface.host.netns)
        ip("link", "set", iface.name, "up", netns=iface.host.netns)
        iface.addresses.append(address)
        if iface not in iface.host.interfaces:
            iface.host.interfaces.append(iface)

    def close(self) -> None:
        """Stop the programs still running in the hosts, then delete every namespace."""
        for host in self.hosts.values():
            for process in host.processes:
                process.stop()
        for host in self.hosts.values():
            subprocess.run(["ip", "netns", "del", host.netns], capture_output=True, check=False)
        self.hosts.clear()
        self.links.clear()
