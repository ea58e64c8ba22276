"""RSPLIB 3.4.4's programs, started in a test host with their logs kept.

Facts that shape these wrappers (docs/testing.md has more):

* RSPLIB drops loopback and link-local addresses from every transport parameter, so the
  programs must run on documentation addresses of veth links or dummy interfaces.
* ``rspregistrar -asap=auto`` picks a random port; tests pin 3863/9901 instead.
* PEs and PUs need ``-registrar=ADDR:PORT`` with the port, or multicast announces.
* ``rspterminal`` does not exit at the end of its input: stop it with a signal.
* Their log goes to a file of its own (``-logfile``); stdout is line-buffered with stdbuf.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from interop.processes import Process
from interop.topology import Host

ASAP_PORT = 3863
ENRP_PORT = 9901


def endpoint(addresses: Sequence[str], port: int) -> str:
    """RSPLIB's multi-homed endpoint spelling: ``addr:port,addr2,addr3``."""
    first, *rest = addresses
    return ",".join([f"{first}:{port}", *rest])


def _start(host: Host, argv: list[str], logdir: Path, name: str, stdin: bool = False) -> Process:
    log = logdir / f"{host.name}-{name}.log"
    # stdbuf: line-buffered stdout, so that what a program printed is in its log at once
    argv = ["stdbuf", "-oL", "-eL", *argv, f"-logfile={log.with_suffix('.rsplib.log')}",
            "-logcolor=off"]  # fmt: skip
    return Process(host, argv, log, stdin=stdin, name=name)


def registrar(
    host: Host,
    logdir: Path,
    addresses: Sequence[str] | None = None,
    identifier: int | None = None,
    peers: Sequence[str] = (),
    extra: Sequence[str] = (),
    name: str = "rspregistrar",
) -> Process:
    """rspregistrar on fixed ports (ASAP 3863, ENRP 9901) on ``addresses`` (default: all)."""
    addresses = list(addresses or host.addresses())
    argv = [
        "rspregistrar",
        f"-asap={endpoint(addresses, ASAP_PORT)}",
        f"-enrp={endpoint(addresses, ENRP_PORT)}",
        "-loglevel=3",
        *(f"-peer={peer}" for peer in peers),
        *([f"-identifier={identifier:#x}"] if identifier is not None else []),
        *extra,
    ]
    return _start(host, argv, logdir, name)


def server(
    host: Host,
    logdir: Path,
    registrar: str,
    service: str = "echo",
    pool_handle: str = "EchoPool",
    identifier: int | None = None,
    extra: Sequence[str] = (),
    name: str = "rspserver",
) -> Process:
    """rspserver -<service> registering at ``registrar`` (``ADDR:PORT``)."""
    argv = [
        "rspserver",
        f"-{service}",
        f"-poolhandle={pool_handle}",
        f"-registrar={registrar}",
        *([f"-identifier={identifier:#x}"] if identifier is not None else []),
        *extra,
    ]
    return _start(host, argv, logdir, name)


def terminal(
    host: Host,
    logdir: Path,
    registrar: str,
    pool_handle: str = "EchoPool",
    name: str = "rspterminal",
    extra: Sequence[str] = (),
) -> Process:
    """rspterminal (a PU): lines sent with :meth:`Process.send_line`, replies in its log."""
    argv = ["rspterminal", f"-poolhandle={pool_handle}", f"-registrar={registrar}", *extra]
    return _start(host, argv, logdir, name, stdin=True)


def hsdump(host: Host, logdir: Path, registrar_enrp: str, name: str = "hsdump") -> Process:
    """hsdump ADDR:PORT: poses as a peer registrar and prints the registrar's handlespace."""
    return _start(host, ["hsdump", registrar_enrp], logdir, name)


PE_REGISTERED = r"Registration:\s+Identifier\s+=\s+\$(?P<pe>[0-9A-Fa-f]+)"
"""What rspserver prints once its first registration succeeded."""

TERMINAL_REPLY = r"from PE \$(?P<pe>[0-9A-Fa-f]+)> (?P<text>[^\x1b\n]*)"
"""How rspterminal prints a reply: ``from PE $00002001> hello``."""
