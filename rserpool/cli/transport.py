"""``--transport kernel|udp|auto`` and ``--udp-port``: which SCTP every subcommand runs on.

* ``kernel``: the kernel's SCTP (Linux ``sctp`` module, or any kernel with SCTP sockets).
* ``udp``: the project's own SCTP over UDP (RFC 6951), :mod:`rserpool.transport.userland`:
  no kernel module and no root needed; it talks to other SCTP-over-UDP stacks (ours, usrsctp,
  Linux with ``net.sctp.udp_port`` and ``net.sctp.encap_port`` set).
* ``auto`` (the default): kernel SCTP where this kernel has it, otherwise UDP; the choice is
  told at start.

SCTP over UDP uses one UDP port per machine address, 9899 by default, and a peer is always
reached on that port first: ASAP carries IP addresses and SCTP ports, never UDP ports, so a
pool user could not learn another one. Hence the rule the defaults follow: **every registrar
and pool element has an address of its own on UDP port 9899**. Pool users (and ``hsdump``)
only start associations, so they take any free UDP port; whoever they reach learns it from
their packets (RFC 6951 §5.4).

With ``udp`` and no local address given, everything stays on this machine's loopback, where
each 127.0.0.x is an address of its own: a registrar takes 127.0.0.1, a pool element the first
of 127.0.0.2, 127.0.0.3, ... whose port 9899 is free, and pool elements and users look for the
registrar at 127.0.0.1:3863 instead of listening for announces (loopback carries no multicast).
Given a ``--registrar`` elsewhere and no address, a pool element binds the address this
machine reaches that registrar from, and a pool user every address of the machine.
"""

from __future__ import annotations

import argparse
import fcntl
import ipaddress
import socket
import struct
from collections.abc import Sequence
from typing import Literal

from rserpool.cli.common import integer
from rserpool.transport.abc import Host

Role = Literal["registrar", "pool element", "client"]
UDP_PORT = 9899
LOOPBACK_REGISTRAR = "127.0.0.1"
LOOPBACK_POOL = [f"127.0.0.{n}" for n in range(2, 255)]
SCTP_MISSING = (93, 94, 97)  # EPROTONOSUPPORT, ESOCKTNOSUPPORT, EAFNOSUPPORT
SIOCGIFADDR = 0x8915  # Linux: an interface's IPv4 address


def add_transport_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("transport")
    group.add_argument("--transport", choices=["auto", "kernel", "udp"], default="auto",
                       help="kernel SCTP, or SCTP over UDP (RFC 6951) on our own stack: no "
                       "kernel module, no root (default auto: kernel SCTP if this kernel has "
                       "it, else udp)")  # fmt: skip
    group.add_argument("--udp-port", type=integer(0, 65535), default=None, metavar="PORT",
                       help=f"with udp: the local UDP port (default {UDP_PORT} for registrars "
                       "and pool elements, any free port for pool users); peers are always "
                       f"reached on port {UDP_PORT}")  # fmt: skip


def kernel_has_sctp() -> bool:
    """Whether this kernel makes SCTP sockets (and the SCTP binding is installed)."""
    try:
        import _sctp  # noqa: F401
    except ImportError:
        return False
    try:
        socket.socket(socket.AF_INET, socket.SOCK_SEQPACKET, socket.IPPROTO_SCTP).close()
    except OSError as exc:
        if exc.errno in SCTP_MISSING:
            return False
        raise
    return True


def chosen(args: argparse.Namespace) -> str:
    """``kernel`` or ``udp``: what ``--transport`` comes to on this machine."""
    kind = str(getattr(args, "transport", "kernel"))
    if kind == "auto":
        return "kernel" if kernel_has_sctp() else "udp"
    return kind


def describe(kind: str, host: Host) -> str:
    if kind == "kernel":
        return "transport: kernel SCTP"
    from rserpool.transport.userland import UserlandHost

    assert isinstance(host, UserlandHost)
    where = ", ".join(host.addresses())
    return f"transport: SCTP over UDP (our own stack), {where}, UDP port {host.udp_port}"


def make_host(
    args: argparse.Namespace, addresses: Sequence[str], *, role: Role, toward: Sequence[str] = ()
) -> tuple[Host, str]:
    """The host a subcommand runs on, and one line saying which it is.

    A registrar or pool element is connected to, so over UDP it needs the well-known port on
    an address of its own; a client only connects (any port). ``toward``: the registrars a PE
    or PU was given; over UDP with no address of its own, it takes the address this machine
    reaches the first of them from (on loopback: as described in the module docstring)."""
    kind = chosen(args)
    if kind == "kernel":
        from rserpool.transport.kernel import KernelHost

        host: Host = KernelHost(list(addresses) or None)
        line = "transport: kernel SCTP"
    else:
        host = _userland(args, addresses, role, toward)
        line = describe(kind, host)
    if args.transport == "auto":
        line += " (auto: " + (
            "this kernel has SCTP)" if kind == "kernel" else "no kernel SCTP here)"
        )
    return host, line


def _userland(
    args: argparse.Namespace, addresses: Sequence[str], role: Role, toward: Sequence[str]
) -> Host:
    from rserpool.errors import TransportError
    from rserpool.transport.userland import UserlandHost

    port = args.udp_port
    if port is None:
        port = 0 if role == "client" else UDP_PORT
    wanted = [a for a in addresses if not ipaddress.ip_address(a).is_unspecified]
    if not wanted and not on_loopback(args, addresses, toward):
        # a client binds every address, as a kernel socket bound to the wildcard would (a PE
        # may sit behind any of the machine's links); a PE registers the one it reaches its
        # registrar from
        wanted = machine_addresses() if role == "client" else []
        wanted = wanted or [source_toward(toward[0])]
    if wanted:
        return UserlandHost(wanted, port)
    if role != "pool element":
        return UserlandHost([LOOPBACK_REGISTRAR], port)
    for candidate in LOOPBACK_POOL:
        try:
            return UserlandHost([candidate], port)
        except TransportError:
            continue  # another pool element has this one
    raise TransportError(f"UDP port {port} is taken on every loopback address 127.0.0.2-254")


def on_loopback(
    args: argparse.Namespace, addresses: Sequence[str], toward: Sequence[str] = ()
) -> bool:
    """UDP with no address given and no registrar elsewhere than on loopback: the whole
    system on this machine's loopback."""
    if chosen(args) != "udp":
        return False
    if [a for a in addresses if not ipaddress.ip_address(a).is_unspecified]:
        return False
    return not toward or ipaddress.ip_address(toward[0]).is_loopback


def machine_addresses() -> list[str]:
    """This machine's (this network namespace's) IPv4 addresses that can leave it: one per
    interface that has one, loopback and link-local left out. Linux (SIOCGIFADDR)."""
    found: list[str] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _index, name in socket.if_nameindex():
            request = struct.pack("256s", name.encode()[:15])
            try:
                answer = fcntl.ioctl(probe.fileno(), SIOCGIFADDR, request)
            except OSError:  # no IPv4 address on it
                continue
            address = ipaddress.ip_address(answer[20:24])
            if not (address.is_loopback or address.is_link_local):
                found.append(str(address))
    return found


def source_toward(peer: str) -> str:
    """The local address this machine sends to ``peer`` from (its routing table's choice;
    connecting a UDP socket sends nothing)."""
    family = socket.AF_INET6 if ipaddress.ip_address(peer).version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        probe.connect((peer, 9))
        return str(probe.getsockname()[0])
