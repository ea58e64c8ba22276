"""``rserpool registrar``: run an RSerPool registrar (ENRP server) on this machine's kernel SCTP.

    rserpool registrar --asap 198.51.100.1:3863,203.0.113.1 --enrp 198.51.100.1:9901,203.0.113.1 \\
        --peer 198.51.100.2 --identifier 0x101

``rspregistrar``'s spellings work too (``-asap=...``, ``-peer=...``, ``-identifier=...``,
``-minaddressscope=sitelocal``, the timer options, ...), so RSPLIB scripts run unchanged.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from dataclasses import fields

import trio

from rserpool.cli.options import (
    parse_endpoint,
    parse_group,
    parse_identifier,
    parse_ip,
    split_host_port,
    translate_rsplib,
)
from rserpool.proto.common import TransportAddress
from rserpool.proto.registrar import RegistrarConfig
from rserpool.scope import AddressScope
from rserpool.transport import ASAP_ANNOUNCE_GROUP, ENRP_ANNOUNCE_GROUP
from rserpool.wire.constants import ASAP_PORT, ENRP_PORT
from rserpool.wire.text import ident

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
    **{name: "--" + field.replace("_", "-") for name, field in TIMERS.items()},
}
SCOPES = {
    "loopback": AddressScope.LOOPBACK,
    "site-local": AddressScope.SITE_LOCAL,
    "sitelocal": AddressScope.SITE_LOCAL,
    "global": AddressScope.GLOBAL,
}
log = logging.getLogger("rserpool.registrar")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "registrar",
        help="run a registrar (ENRP server)",
        description=(
            "Run an RSerPool registrar: PEs register over ASAP, PUs resolve pool handles, "
            "registrars keep their handlespaces in step over ENRP. RSPLIB's rspregistrar "
            "options (-asap=..., -peer=..., ...) are accepted as well."
        ),
    )
    p.add_argument("--asap", default=f"0.0.0.0:{ASAP_PORT}", metavar="ADDR:PORT[,ADDR...]",
                   help="ASAP SCTP endpoint, multi-homed (default: every address, port 3863; "
                        "'auto': a kernel-chosen port, as rspregistrar)")  # fmt: skip
    p.add_argument("--enrp", default=f"0.0.0.0:{ENRP_PORT}", metavar="ADDR:PORT[,ADDR...]",
                   help="ENRP SCTP endpoint (default: every address, port 9901)")  # fmt: skip
    p.add_argument("--peer", action="append", default=[], metavar="ADDR[:PORT][,ADDR...]",
                   help="static ENRP peer (default port 9901); repeatable")  # fmt: skip
    p.add_argument("--identifier", type=parse_identifier, default=0, metavar="ID",
                   help="registrar id, 0x... or decimal (default: random)")  # fmt: skip
    p.add_argument("--asap-announce", default="auto", metavar="auto|off|ADDR:PORT",
                   help="Server Announce group (auto = 239.0.0.50:3863)")  # fmt: skip
    p.add_argument("--enrp-announce", default="auto", metavar="auto|off|ADDR:PORT",
                   help="ENRP Presence multicast group (auto = 239.0.0.51:9901)")  # fmt: skip
    p.add_argument("--min-address-scope", choices=sorted(SCOPES), default="site-local",
                   help="smallest address scope accepted from PEs and peers")  # fmt: skip
    p.add_argument("--max-bad-pe-reports", type=int, default=3)
    p.add_argument("--max-hr-items", type=int, default=3)
    p.add_argument("--max-increment", type=int, default=0)
    p.add_argument("--max-elements-per-ht-request", type=int, default=128)
    p.add_argument("--max-hr-rate", type=float, default=-1, help="per PU and pool, 1/s")
    p.add_argument("--max-eu-rate", type=float, default=-1, help="per PU and PE, 1/s")
    p.add_argument("--support-takeover-suggestion", action="store_true",
                   help="accepted for RSPLIB compatibility; not acted upon yet")  # fmt: skip
    defaults = RegistrarConfig()
    for field in TIMERS.values():
        p.add_argument("--" + field.replace("_", "-"), type=int, metavar="MS",
                       default=getattr(defaults, field))  # fmt: skip
    p.add_argument("--log-level", default="info",
                   choices=["debug", "info", "warning", "error"])  # fmt: skip
    p.set_defaults(func=run)


def translate(argv: list[str]) -> tuple[list[str], list[str]]:
    flags = {"supporttakeoversuggestion": "--support-takeover-suggestion"}
    return translate_rsplib(argv, RSPLIB_NAMES, flags)


def parse_peer(text: str) -> TransportAddress:
    first, *rest = text.split(",")
    host, port = split_host_port(first, ENRP_PORT)
    return TransportAddress((parse_ip(host), *(parse_ip(a) for a in rest)), port or ENRP_PORT)


Groups = dict[str, tuple[str, int]]


def build_config(args: argparse.Namespace) -> tuple[RegistrarConfig, Groups]:
    """The core's configuration and the driver's announce groups."""
    asap_addresses, asap_port = parse_endpoint(args.asap, ASAP_PORT)
    enrp_addresses, enrp_port = parse_endpoint(args.enrp, ENRP_PORT)
    asap_group = parse_group(args.asap_announce, ASAP_ANNOUNCE_GROUP)
    enrp_group = parse_group(args.enrp_announce, ENRP_ANNOUNCE_GROUP)
    config = RegistrarConfig.rsplib_clamped(
        server_id=args.identifier,
        asap_addresses=asap_addresses,
        asap_port=asap_port,
        enrp_addresses=enrp_addresses,
        enrp_port=enrp_port,
        asap_announce=asap_group is not None,
        enrp_announce=enrp_group is not None,
        static_peers=tuple(parse_peer(p) for p in args.peer),
        min_address_scope=SCOPES[args.min_address_scope],
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
        "asap_announce_group": asap_group or ASAP_ANNOUNCE_GROUP,
        "enrp_announce_group": enrp_group or ENRP_ANNOUNCE_GROUP,
    }
    return config, extras


def banner(config: RegistrarConfig, extras: Groups) -> str:
    """The configuration, one setting a line, like rspregistrar's startup banner."""
    lines = ["RSerPool registrar (rserpool) -- configuration:"]
    for f in fields(RegistrarConfig):
        value = getattr(config, f.name)
        if isinstance(value, tuple):
            value = ", ".join(str(v) for v in value) or "-"
        elif isinstance(value, AddressScope):
            value = value.name.lower().replace("_", "-")
        elif f.name == "server_id":
            value = ident(value) if value else "random"
        lines.append(f"  {f.name.replace('_', ' '):44} {value}")
    for name, value in extras.items():
        lines.append(f"  {name.replace('_', ' '):44} {value[0]}:{value[1]}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(levelname)-7s %(message)s",
        stream=sys.stdout,
    )
    try:
        config, extras = build_config(args)
    except (ValueError, argparse.ArgumentTypeError) as exc:
        print(f"rserpool registrar: {exc}", file=sys.stderr)
        return 2
    print(banner(config, extras), flush=True)
    trio.run(_serve, config, extras)
    return 0


async def _serve(config: RegistrarConfig, groups: Groups) -> None:
    from rserpool.drivers.registrar import Registrar
    from rserpool.transport.kernel import KernelHost

    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with trio.open_nursery() as nursery:
            registrar = Registrar(
                KernelHost(),
                config,
                asap_announce_group=groups["asap_announce_group"],
                enrp_announce_group=groups["enrp_announce_group"],
            )
            await nursery.start(registrar.run)
            print(
                f"Registrar {ident(registrar.server_id)} running: ASAP {registrar.asap_address}, "
                f"ENRP {registrar.enrp_address}",
                flush=True,
            )
            async for signum in signals:
                log.info("%s: shutting down", signal.Signals(signum).name)
                nursery.cancel_scope.cancel()
                break
