"""``rserpool registrar``: run an RSerPool registrar (ENRP server) on this machine's kernel SCTP.

    rserpool registrar --asap 198.51.100.1:3863,203.0.113.1 --enrp 198.51.100.1:9901,203.0.113.1 \\
        --peer 198.51.100.2 --identifier 0x101

``rspregistrar``'s spellings work too (``-asap=...``, ``-peer=...``, ``-identifier=...``,
``-minaddressscope=sitelocal``, the timer options, ``-statsfile=``, ``-cspserver=``, ...), so
RSPLIB scripts run unchanged. With a CSP monitor and interval (:mod:`rserpool.cli.csp`) it
reports its status, as ``rspregistrar`` does.

Every option is checked before the registrar starts: a bad value is one line naming the option
as it was typed, exit status 2. A timer outside RSPLIB's range is clamped into it, as
``rspregistrar`` does, but with a warning line (RSPLIB does it silently). An ``--asap``,
``--enrp`` or ``--peer`` address below ``--min-address-scope`` is refused: PEs and peers
reaching the registrar over it would be refused in turn.

Statistics (``--stats-file``, SIGUSR1) are one JSON document,
:meth:`rserpool.drivers.registrar.Registrar.statistics_document`, written by
:mod:`rserpool.cli.statsfile`; docs/registrar.md shows one.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

import trio

from rserpool.cli import common, csp, transport
from rserpool.cli.common import UsageError, add_logging_options, integer, number, say, spelled
from rserpool.cli.options import (
    parse_endpoint,
    parse_group,
    parse_identifier,
    parse_remote,
    translate_rsplib,
)
from rserpool.cli.statsfile import StatisticsWriter as StatisticsWriter
from rserpool.cli.statsfile import write_atomically as write_atomically
from rserpool.proto.common import IPAddress, TransportAddress
from rserpool.proto.registrar import RegistrarConfig
from rserpool.proto.registrar.config import RSPLIB_TIMER_RANGES
from rserpool.scope import AddressScope, address_scope
from rserpool.transport import ASAP_ANNOUNCE_GROUP, ENRP_ANNOUNCE_GROUP, Host
from rserpool.wire.constants import ASAP_PORT, ENRP_PORT
from rserpool.wire.csp import ComponentGroup
from rserpool.wire.text import ident

U32 = 0xFFFFFFFF
# RSPLIB option name -> our option; the timer options keep RSPLIB's units (ms).
TIMERS = {
    "endpointkeepalivetransmissioninterval": "endpoint_keep_alive_transmission_interval",
    "endpointkeepalivetimeoutinterval": "endpoint_keep_alive_timeout_interval",
    "serverannouncecycle": "server_announce_cycle",
    "peerheartbeatcycle": "peer_heartbeat_cycle",
    "peermaxtimelastheard": "peer_max_time_last_heard",
    "peermaxtimenoresponse": "peer_max_time_no_response",
    "mentordiscoverytimeout": "mentor_discovery_timeout",
    "takeoverexpiryinterval": "takeover_expiry_interval",
}
TIMER_HELP = {
    "endpoint_keep_alive_transmission_interval": "how often a registered PE is sent Endpoint "
    "Keep Alive",
    "endpoint_keep_alive_timeout_interval": "how long to wait for the Endpoint Keep Alive Ack "
    "before the PE is removed",
    "server_announce_cycle": "how often a Server Announce goes to the ASAP announce group",
    "peer_heartbeat_cycle": "how often Presence goes to every peer",
    "peer_max_time_last_heard": "silence after which a peer is asked for Presence",
    "peer_max_time_no_response": "how long an asked peer may stay silent before it is removed "
    "(and its PEs taken over)",
    "mentor_discovery_timeout": "how long to look for a mentor peer at startup",
    "takeover_expiry_interval": "how long a takeover waits for every peer's acknowledgement",
}
RSPLIB_NAMES = {
    "asap": "--asap",
    "enrp": "--enrp",
    "peer": "--peer",
    "identifier": "--identifier",
    "asapannounce": "--asap-announce",
    "enrpannounce": "--enrp-announce",
    "enrpmulticast": "--enrp-announce",  # deprecated RSPLIB name
    "minaddressscope": "--min-address-scope",
    "maxbadpereports": "--max-bad-pe-reports",
    "maxhresitems": "--max-hr-items",
    "maxincrement": "--max-increment",
    "maxelementsperhtrequest": "--max-elements-per-ht-request",
    "maxhrrate": "--max-hr-rate",
    "maxeurate": "--max-eu-rate",
    "statsfile": "--stats-file",
    "statsinterval": "--stats-interval",
    **{name: "--" + field.replace("_", "-") for name, field in TIMERS.items()},
    **csp.RSPLIB_NAMES,
}
SCOPES = {
    "loopback": AddressScope.LOOPBACK,
    "site-local": AddressScope.SITE_LOCAL,
    "sitelocal": AddressScope.SITE_LOCAL,
    "global": AddressScope.GLOBAL,
}
STATS_INTERVAL = 1000  # ms between two statistics files (RSPLIB's -statsinterval default)
log = logging.getLogger("rserpool.registrar")

Endpoint = tuple[tuple[IPAddress, ...], int]
Group = tuple[str, int]


def _endpoint(default_port: int) -> Callable[[str], Endpoint]:
    def endpoint(text: str) -> Endpoint:
        return parse_endpoint(text, default_port)

    return endpoint


def _group(default: Group) -> Callable[[str], Group | None]:
    def group(text: str) -> Group | None:
        return parse_group(text, default)

    return group


def parse_peer(text: str) -> TransportAddress:
    """A static peer: ``addr[:port]{,addr}`` (port 9901 unless given)."""
    addresses, port = parse_remote(text, ENRP_PORT)
    return TransportAddress(addresses, port)


def parse_rate(text: str) -> float:
    """A rate limit in requests per second: a finite number of at least 0, or -1 (unlimited)."""
    value = number(float)(text)
    if value < 0 and value != -1:
        raise argparse.ArgumentTypeError(
            f"must be -1 (unlimited) or a rate of at least 0 per second, not {text}"
        )
    return value


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "registrar",
        help="run a registrar (ENRP server)",
        description=(
            "Run an RSerPool registrar: PEs register over ASAP, PUs resolve pool handles, "
            "registrars keep their handlespaces in step over ENRP. RSPLIB's rspregistrar "
            "options (-asap=..., -peer=..., -statsfile=..., ...) are accepted as well. "
            "Each accepted, refused or removed registration and each peer is told on standard "
            "output. SIGUSR1 writes the statistics at once (to --stats-file, or as one JSON "
            "line on standard output)."
        ),
    )
    a = p.add_argument_group("endpoints")
    a.add_argument("--asap", type=_endpoint(ASAP_PORT), default=f"0.0.0.0:{ASAP_PORT}",
                   metavar="ADDR:PORT[,ADDR...]",
                   help="the ASAP SCTP endpoint (PEs, PUs), multi-homed: a port and one or "
                        "more addresses, or 0.0.0.0 alone for every address of this host; "
                        "'auto': every address, a port the kernel chooses (as rspregistrar); "
                        "every address given must be of at least --min-address-scope")  # fmt: skip
    a.add_argument("--enrp", type=_endpoint(ENRP_PORT), default=f"0.0.0.0:{ENRP_PORT}",
                   metavar="ADDR:PORT[,ADDR...]",
                   help="the ENRP SCTP endpoint (peer registrars), as --asap")  # fmt: skip
    a.add_argument("--peer", type=parse_peer, action="append", default=[],
                   metavar="ADDR[:PORT][,ADDR...]",
                   help="a static ENRP peer (port 9901 unless given); repeat the option for "
                        "more peers (default: none, peers are found by multicast)")  # fmt: skip
    a.add_argument("--peers-only", action="store_true",
                   help="accept only the --peer registrars as peers: Presence, List Responses "
                        "and multicast from any other address are ignored; for deployments "
                        "without TLS between registrars (default: off, any registrar that "
                        "announces itself becomes a peer)")  # fmt: skip
    a.add_argument("--identifier", type=parse_identifier, default=0, metavar="ID",
                   help="the registrar id, 0x..., $... or decimal, 1..0xffffffff (default: "
                        "random, as with 0)")  # fmt: skip
    a.add_argument("--asap-announce", type=_group(ASAP_ANNOUNCE_GROUP), default="auto",
                   metavar="auto|off|GROUP[:PORT]",
                   help="where Server Announces go (auto = 239.0.0.50:3863)")  # fmt: skip
    a.add_argument("--enrp-announce", type=_group(ENRP_ANNOUNCE_GROUP), default="auto",
                   metavar="auto|off|GROUP[:PORT]",
                   help="the ENRP Presence multicast group (auto = 239.0.0.51:9901)")  # fmt: skip
    a.add_argument("--min-address-scope", choices=sorted(SCOPES), default="site-local",
                   help="the smallest address scope accepted from PEs and peers: a PE whose "
                        "addresses are all below it is refused (RSPLIB cause 0xf007/0xf008), "
                        "and so is an --asap, --enrp or --peer address below it. "
                        "PEs and PUs on the registrar's own host connect from loopback "
                        "addresses: use 'loopback' to try things out on one machine")  # fmt: skip

    lim = p.add_argument_group("limits")
    lim.add_argument("--max-bad-pe-reports", type=integer(1, U32), default=3, metavar="N",
                     help="Endpoint Unreachable reports after which a PE is removed")  # fmt: skip
    lim.add_argument("--max-hr-items", type=integer(1, U32), default=3, metavar="N",
                     help="PEs per Handle Resolution Response when the PU does not ask for a "
                          "number (at most 128 are sent)")  # fmt: skip
    lim.add_argument("--max-increment", type=integer(0, U32), default=0, metavar="N",
                     help="how far a selection advances a round-robin pool (0: the policy's "
                          "own)")  # fmt: skip
    lim.add_argument("--max-elements-per-ht-request", type=integer(1, U32), default=128,
                     metavar="N", help="PEs per Handle Table Response to a peer")  # fmt: skip
    lim.add_argument("--max-hr-rate", type=parse_rate, default=-1, metavar="PER_S",
                     help="Handle Resolutions per second allowed per PU and pool; more are "
                          "answered 'unknown pool handle' (RSPLIB); -1: unlimited")  # fmt: skip
    lim.add_argument("--max-eu-rate", type=parse_rate, default=-1, metavar="PER_S",
                     help="Endpoint Unreachable reports per second counted per PU and PE; "
                          "more are ignored; -1: unlimited")  # fmt: skip
    lim.add_argument("--support-takeover-suggestion", action="store_true",
                     help="accepted for RSPLIB compatibility; not acted upon yet "
                          "(default: off)")  # fmt: skip

    t = p.add_argument_group(
        "timers", "in milliseconds; a value outside RSPLIB's range is raised or lowered into "
        "it with a warning, as rspregistrar does (silently)"
    )  # fmt: skip
    defaults = RegistrarConfig()
    for field in TIMERS.values():
        low, high = RSPLIB_TIMER_RANGES[field]
        t.add_argument("--" + field.replace("_", "-"), type=integer(1, U32), metavar="MS",
                       default=getattr(defaults, field),
                       help=f"{TIMER_HELP[field]} (RSPLIB's range: {low}..{high})")  # fmt: skip

    s = p.add_argument_group("statistics")
    s.add_argument("--stats-file", type=Path, default=None, metavar="PATH",
                   help="write the statistics as one JSON document to PATH every "
                        "--stats-interval (replaced atomically: a reader never sees half a "
                        "file) and on SIGUSR1 (default: none; SIGUSR1 then prints one JSON "
                        "line)")  # fmt: skip
    s.add_argument("--stats-interval", type=integer(100, U32), default=STATS_INTERVAL,
                   metavar="MS", help="how often --stats-file is written")  # fmt: skip
    csp.add_csp_options(p, identifier=False)
    transport.add_transport_options(p)
    add_logging_options(p)
    p.set_defaults(func=run)


def translate(argv: list[str]) -> tuple[list[str], list[str]]:
    flags = {
        "supporttakeoversuggestion": "--support-takeover-suggestion",
        "peersonly": "--peers-only",
    }
    return translate_rsplib(argv, RSPLIB_NAMES, flags)


Groups = dict[str, tuple[str, int]]


def build_config(args: argparse.Namespace) -> tuple[RegistrarConfig, Groups]:
    """The core's configuration and the driver's announce groups.

    Raises :class:`UsageError` for an address below the minimum address scope."""
    asap_addresses, asap_port = args.asap
    enrp_addresses, enrp_port = args.enrp
    scope = SCOPES[args.min_address_scope]
    check_scope("--asap", asap_addresses, scope, "PEs and PUs would be refused")
    check_scope("--enrp", enrp_addresses, scope, "peers would ignore it")
    for peer in args.peer:
        check_scope("--peer", peer.addresses, scope, "it would be ignored")
    config = RegistrarConfig.rsplib_clamped(
        server_id=args.identifier,
        asap_addresses=asap_addresses,
        asap_port=asap_port,
        enrp_addresses=enrp_addresses,
        enrp_port=enrp_port,
        asap_announce=args.asap_announce is not None,
        enrp_announce=args.enrp_announce is not None,
        static_peers=tuple(args.peer),
        static_peers_only=args.peers_only,
        min_address_scope=scope,
        max_bad_pe_reports=args.max_bad_pe_reports,
        max_hr_items=args.max_hr_items,
        max_increment=args.max_increment,
        max_elements_per_ht_request=args.max_elements_per_ht_request,
        max_hr_rate=args.max_hr_rate,
        max_eu_rate=args.max_eu_rate,
        support_takeover_suggestion=args.support_takeover_suggestion,
        **{field: getattr(args, field) for field in TIMERS.values()},
    )
    extras: Groups = {
        "asap_announce_group": args.asap_announce or ASAP_ANNOUNCE_GROUP,
        "enrp_announce_group": args.enrp_announce or ENRP_ANNOUNCE_GROUP,
    }
    return config, extras


def check_scope(
    option: str, addresses: tuple[IPAddress, ...], scope: AddressScope, consequence: str
) -> None:
    """Refuse an address below ``scope``, telling which ``--min-address-scope`` admits it."""
    for address in addresses:
        found = address_scope(address)
        if found >= scope:
            continue
        kind = found.name.lower().replace("_", "-")
        wanted = "loopback" if found < AddressScope.SITE_LOCAL else "site-local"
        rsplib = spelled(option) != option or spelled("--min-address-scope").startswith("-m")
        fix = f"-minaddressscope={wanted}" if rsplib else f"--min-address-scope {wanted}"
        raise UsageError(
            f"argument {spelled(option)}: {address} is a {kind} address, below the minimum "
            f"address scope {args_scope_name(scope)} ({consequence}): add {fix}, or give an "
            "address of a larger scope"
        )


def args_scope_name(scope: AddressScope) -> str:
    return scope.name.lower().replace("_", "-")


def clamp_warnings(args: argparse.Namespace) -> list[str]:
    """One warning per timer outside RSPLIB's range (the configuration clamps it)."""
    lines = []
    for field in TIMERS.values():
        value = getattr(args, field)
        low, high = RSPLIB_TIMER_RANGES[field]
        option = spelled("--" + field.replace("_", "-"))
        if value < low:
            lines.append(f"{option} {value} ms is below RSPLIB's minimum {low} ms: using {low}")
        elif value > high:
            lines.append(f"{option} {value} ms is above RSPLIB's maximum {high} ms: using {high}")
    return lines


def banner(config: RegistrarConfig, extras: Groups) -> str:
    """The configuration, one setting a line, like rspregistrar's startup banner."""
    lines = ["RSerPool registrar (rserpool) -- configuration:"]
    for f in fields(RegistrarConfig):
        value = getattr(config, f.name)
        if isinstance(value, tuple):
            value = ", ".join(str(v) for v in value) or "-"
        elif isinstance(value, AddressScope):
            value = args_scope_name(value)
        elif f.name == "server_id":
            value = ident(value) if value else "random"
        lines.append(f"  {f.name.replace('_', ' '):44} {value}")
    for name, value in extras.items():
        lines.append(f"  {name.replace('_', ' '):44} {value[0]}:{value[1]}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    addresses = [str(a) for a in (*args.asap[0], *args.enrp[0])]
    if transport.on_loopback(args, addresses):
        loopback_defaults(args)
    try:
        config, groups = build_config(args)
        csp.check(args)
    except UsageError as exc:  # told like argparse's own usage errors
        print(f"{args.prog}: error: {exc} (see {args.prog} --help)", file=sys.stderr)
        return 2

    async def main(args: argparse.Namespace) -> int:
        host, line = transport.make_host(args, addresses, role="registrar")
        say(line)
        return await serve(args, config, groups, host)

    return common.run(args, main)


def loopback_defaults(args: argparse.Namespace) -> None:
    """SCTP over UDP with no address: a registrar for this machine alone, on 127.0.0.1. Its
    PEs come from loopback addresses, and loopback carries no multicast announces."""
    if args.min_address_scope == "site-local":
        args.min_address_scope = "loopback"
    if args.asap_announce is not None or args.enrp_announce is not None:
        log.info("announces off: the loopback interface carries no multicast")
    args.asap_announce = args.enrp_announce = None


async def serve(
    args: argparse.Namespace, config: RegistrarConfig, groups: Groups, host: Host
) -> int:
    """Run the registrar on ``host`` until cancelled (SIGINT/SIGTERM: common.run)."""
    from rserpool.drivers.csp import registrar_fields
    from rserpool.drivers.registrar import Registrar

    for line in clamp_warnings(args):
        log.warning("%s", line)
    registrar = Registrar(
        host,
        config,
        asap_announce_group=groups["asap_announce_group"],
        enrp_announce_group=groups["enrp_announce_group"],
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(registrar.run)
        say(banner(registrar.config, groups))
        if reporting := csp.told(getattr(args, "csp", None)):
            say(reporting)
        say(
            f"Registrar {ident(registrar.server_id)} running: ASAP {registrar.asap_address}, "
            f"ENRP {registrar.enrp_address}"
        )
        stats = StatisticsWriter(registrar.statistics_document, args.stats_file)
        if args.stats_file is not None:
            nursery.start_soon(stats.every, args.stats_interval / 1000)
        nursery.start_soon(stats.on_signal)
        nursery.start_soon(csp.report_until_cancelled, args, ComponentGroup.REGISTRAR,
                           registrar.server_id, registrar_fields(registrar))  # fmt: skip
    return 0
