"""``rserpool registrar`` and ``rserpool hsdump``: option parsing, RSPLIB spellings, banner."""

from __future__ import annotations

import argparse
import ipaddress

import pytest

from rserpool.cli import build_parser, main
from rserpool.cli import registrar as cli_registrar
from rserpool.cli.options import parse_endpoint, parse_group, parse_identifier
from rserpool.proto.common import TransportAddress
from rserpool.proto.registrar import RegistrarConfig
from rserpool.scope import AddressScope


def config_of(*argv: str) -> tuple[RegistrarConfig, dict[str, tuple[str, int]]]:
    rest, _notes = cli_registrar.translate(list(argv))
    args = build_parser().parse_args(["registrar", *rest])
    return cli_registrar.build_config(args)


def test_rspregistrar_command_lines_run_unchanged(capsys: pytest.CaptureFixture[str]) -> None:
    config, groups = config_of(
        "-asap=198.51.100.1:3863,203.0.113.1",
        "-enrp=198.51.100.1:9901",
        "-peer=198.51.100.2",
        "-peer=[2001:db8::9]:9999",
        "-identifier=0x101",
        "-minaddressscope=sitelocal",
        "-maxbadpereports=5",
        "-maxhresitems=7",
        "-peerheartbeatcycle=1500",
        "-endpointkeepalivetransmissioninterval=100",  # below RSPLIB's clamp (300)
        "-asapannounce=off",
        "-enrpannounce=239.0.0.99:9999",
        "-maxhrrate=10",
        "-loglevel=3",
        "-logcolor=off",
    )
    assert config.server_id == 0x101
    assert config.asap_addresses == (
        ipaddress.ip_address("198.51.100.1"),
        ipaddress.ip_address("203.0.113.1"),
    )
    assert config.static_peers == (
        TransportAddress((ipaddress.ip_address("198.51.100.2"),), 9901),
        TransportAddress((ipaddress.ip_address("2001:db8::9"),), 9999),
    )
    assert config.min_address_scope is AddressScope.SITE_LOCAL
    assert config.max_bad_pe_reports == 5
    assert config.max_hr_items == 7
    assert config.peer_heartbeat_cycle == 1500
    assert config.endpoint_keep_alive_transmission_interval == 300
    assert config.asap_announce is False
    assert groups["enrp_announce_group"] == ("239.0.0.99", 9999)
    assert config.max_hr_rate == 10


def test_rsplib_only_options_are_noted(capsys: pytest.CaptureFixture[str]) -> None:
    rest, notes = cli_registrar.translate(["-loglevel=3", "-logfile=x.log", "--identifier", "7"])
    assert rest == ["--log-level", "info", "--identifier", "7"]
    assert len(notes) == 1 and "-logfile=x.log" in notes[0]


def test_defaults_are_rspregistrars_with_fixed_ports() -> None:
    config, groups = config_of()
    assert config.asap_port == 3863 and config.enrp_port == 9901
    assert config.asap_addresses == () and config.server_id == 0
    assert groups == {
        "asap_announce_group": ("239.0.0.50", 3863),
        "enrp_announce_group": ("239.0.0.51", 9901),
    }


def test_banner_lists_every_setting() -> None:
    config, groups = config_of("--identifier", "0x101", "--peer", "198.51.100.2")
    text = cli_registrar.banner(config, groups)
    assert "server id" in text and "$00000101" in text
    assert "static peers" in text and "198.51.100.2:9901" in text
    assert "peer heartbeat cycle" in text and "2444" in text
    assert "asap announce group" in text and "239.0.0.50:3863" in text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("auto", ((), 0)),
        ("0.0.0.0:3863", ((), 3863)),
        ("198.51.100.1", ((ipaddress.ip_address("198.51.100.1"),), 3863)),
        ("[2001:db8::1]:99,198.51.100.1", (
            (ipaddress.ip_address("2001:db8::1"), ipaddress.ip_address("198.51.100.1")), 99)),
    ],
)  # fmt: skip
def test_endpoints(text: str, expected: object) -> None:
    assert parse_endpoint(text, 3863) == expected


def test_identifiers_and_groups() -> None:
    assert parse_identifier("0x101") == 0x101
    assert parse_identifier("$00000101") == 0x101
    assert parse_identifier("257") == 257
    with pytest.raises(argparse.ArgumentTypeError):
        parse_identifier("0x100000000")
    assert parse_group("off", ("239.0.0.50", 3863)) is None
    assert parse_group("239.1.2.3", ("239.0.0.50", 3863)) == ("239.1.2.3", 3863)
    with pytest.raises(argparse.ArgumentTypeError):
        parse_group("198.51.100.1:3863", ("239.0.0.50", 3863))


def test_bad_option_fails_with_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["registrar", "--identifier", "banana"])
    assert exit_info.value.code == 2
    assert "not an identifier" in capsys.readouterr().err


def test_hsdump_needs_an_address(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["hsdump"])
    assert "arguments are required" in capsys.readouterr().err
    assert main(["hsdump", "not-an-address"]) == 2
