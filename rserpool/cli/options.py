"""Command-line helpers shared by the subcommands: endpoints, identifiers, RSPLIB spellings.

RSPLIB's programs take single-dash ``-name=value`` options; ours are ``--name value``.
:func:`translate_rsplib` rewrites the former into the latter before argparse sees them, so
that scripts written for ``rspregistrar`` run unchanged against ``rserpool registrar``.
"""

from __future__ import annotations

import argparse
import ipaddress
from collections.abc import Mapping, Sequence

from rserpool.proto.common import IPAddress

#: Our option → the RSPLIB spelling the user typed, filled by :func:`translate_rsplib` so that
#: a usage error names the option as written (``argument -count: ...``).
SPELLINGS: dict[str, str] = {}

#: RSPLIB options that only concern RSPLIB's own logging, statistics or daemon mode:
#: accepted (so that scripts run) and reported as ignored.
IGNORED_PREFIXES = (
    "-logfile",
    "-logappend",
    "-logcolor",
    "-statsfile",
    "-statsinterval",
    "-actionlogfile",
    "-object",
    "-scalar",
    "-daemonpidfile",
    "-quiet",
    "-disable-ipv6",
    "-autoclosetimeout",
    "-distancestep",
    "-uptime",
    "-downtime",
)


def translate_rsplib(
    argv: Sequence[str], names: Mapping[str, str], flags: Mapping[str, str] = {}
) -> tuple[list[str], list[str]]:
    """``-name=value`` → ``--option value`` for the names in ``names`` (RSPLIB name →
    our option), ``-name`` → ``--option`` for ``flags``; RSPLIB-only options are dropped.

    Returns the new argument list and notes about what was dropped.
    """
    result: list[str] = []
    notes: list[str] = []
    for arg in argv:
        if arg.startswith("--") or not arg.startswith("-") or len(arg) < 3:
            result.append(arg)
            continue
        name, eq, value = arg[1:].partition("=")
        key = name.lower()
        if eq and key in names:
            result += [names[key], value]
            SPELLINGS[names[key]] = f"-{name}"
        elif not eq and key in flags:
            result.append(flags[key])
            SPELLINGS[flags[key]] = f"-{name}"
        elif eq and key == "loglevel":
            result += ["--log-level", rsplib_log_level(value)]
            SPELLINGS["--log-level"] = f"-{name}"
        elif not eq and key == "logquiet":
            result.append("--quiet")
        elif arg.lower().startswith(IGNORED_PREFIXES):
            notes.append(f"note: RSPLIB option {arg} has no effect here (ignored)")
        else:
            result.append(arg)
    return result, notes


def rsplib_log_level(text: str) -> str:
    """RSPLIB's ``-loglevel=0..9`` as one of our level names (a bad value is passed on for
    argparse to refuse)."""
    from rserpool.cli.common import RSPLIB_LOG_LEVELS

    if not text.isdigit():
        return text
    return RSPLIB_LOG_LEVELS.get(int(text), "debug")


def parse_ip(text: str, whole: str | None = None) -> IPAddress:
    """One IP address (IPv6 may be in brackets); ``whole`` is the option value it came from."""
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        where = "" if whole in (None, text) else f" in {whole!r}"
        raise argparse.ArgumentTypeError(f"not an IP address: {text!r}{where}") from None


def split_host_port(
    text: str, default_port: int | None, whole: str | None = None, low: int = 0
) -> tuple[str, int | None]:
    """``1.2.3.4:99``, ``[2001:db8::1]:99``, ``1.2.3.4`` or ``2001:db8::1`` → (host, port);
    ``default_port`` where none is given; a port must lie in ``low``..65535."""
    whole = whole or text
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest and not rest.startswith(":"):
            raise argparse.ArgumentTypeError(f"not an address: {text!r} in {whole!r}")
        colon, port = bool(rest), rest[1:]
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
        colon = True
    else:
        host, port, colon = text, "", False
    if not colon:
        return host, default_port
    if not port:
        raise argparse.ArgumentTypeError(f"no port after ':' in {whole!r}")
    if not port.isdigit() or not low <= int(port) <= 0xFFFF:
        raise argparse.ArgumentTypeError(f"bad port {port!r} in {whole!r} (a port is {low}-65535)")
    return host, int(port)


def unspecified_alone(text: str, addresses: Sequence[IPAddress]) -> bool:
    """True if ``addresses`` is the wildcard (``0.0.0.0`` or ``::``: every address of this
    host) alone; the wildcard beside other addresses is refused."""
    if not any(a.is_unspecified for a in addresses):
        return False
    if len(addresses) > 1:
        raise argparse.ArgumentTypeError(
            f"{text!r}: {_unspecified(addresses)} means every address of this host and "
            "cannot be combined with other addresses"
        )
    return True


def parse_endpoint(text: str, default_port: int) -> tuple[tuple[IPAddress, ...], int]:
    """RSPLIB's multi-homed spelling ``addr:port{,addr}``; ``auto`` = every address, a port
    chosen by the kernel (as ``rspregistrar -asap=auto``); ``0.0.0.0``/``::`` alone = every
    address (it cannot be combined with other addresses). Multicast and broadcast addresses
    and repeated addresses are refused."""
    if text == "auto":
        return (), 0
    first, *rest = text.split(",")
    host, port = split_host_port(first, default_port, text)
    addresses = [parse_ip(host, text), *(parse_ip(a, text) for a in rest)]
    if unspecified_alone(text, addresses):
        addresses = []
    _check_unicast(text, addresses)
    return tuple(addresses), default_port if port is None else port


def parse_remote(text: str, default_port: int) -> tuple[tuple[IPAddress, ...], int]:
    """Someone else's multi-homed endpoint ``addr[:port]{,addr}`` (a registrar, a peer):
    unicast addresses only (neither ``0.0.0.0`` nor multicast), each once, and a port other
    than 0."""
    first, *rest = text.split(",")
    host, port = split_host_port(first, default_port, text, low=1)
    addresses = [parse_ip(host, text), *(parse_ip(a, text) for a in rest)]
    if any(a.is_unspecified for a in addresses):
        raise argparse.ArgumentTypeError(
            f"{text!r}: {_unspecified(addresses)} is no address to connect to"
        )
    _check_unicast(text, addresses)
    return tuple(addresses), default_port if port is None else port


def _unspecified(addresses: Sequence[IPAddress]) -> str:
    return next(str(a) for a in addresses if a.is_unspecified)


def _check_unicast(text: str, addresses: Sequence[IPAddress]) -> None:
    for address in addresses:
        broadcast = address.version == 4 and str(address) == "255.255.255.255"
        if address.is_multicast or broadcast:
            kind = "a multicast" if address.is_multicast else "the broadcast"
            raise argparse.ArgumentTypeError(
                f"{text!r}: {address} is {kind} address, not one of an SCTP endpoint"
            )
    if len(set(addresses)) != len(addresses):
        raise argparse.ArgumentTypeError(f"{text!r}: an address is given twice")


def parse_identifier(text: str) -> int:
    """``0x1234``, ``$1234`` (RSPLIB prints ids so) or decimal."""
    try:
        if text.lower().startswith(("0x", "$")):
            value = int(text.lstrip("$").lower().removeprefix("0x"), 16)
        else:
            value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an identifier: {text!r}") from None
    if not 0 <= value <= 0xFFFFFFFF:
        raise argparse.ArgumentTypeError(f"identifier out of range: {text!r}")
    return value


def parse_group(text: str, default: tuple[str, int]) -> tuple[str, int] | None:
    """``auto`` → ``default``; ``off`` → None; ``ADDR[:PORT]``."""
    if text == "auto":
        return default
    if text == "off":
        return None
    host, port = split_host_port(text, default[1])
    address = parse_ip(host, text)
    if not address.is_multicast:
        raise argparse.ArgumentTypeError(
            f"not a multicast address: {text!r} (give auto, off or a group such as "
            f"{default[0]}:{default[1]})"
        )
    if port == 0:
        raise argparse.ArgumentTypeError(f"{text!r}: port 0 is no port for a multicast group")
    return str(address), default[1] if port is None else port
