"""``rserpool registrar``: option parsing, RSPLIB spellings, banner, every usage error (exact
line, exit status 2), clamp warnings, help with defaults, and the real command without SCTP."""

from __future__ import annotations

import argparse
import ipaddress
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from rserpool.cli import build_parser, main, transport
from rserpool.cli import registrar as cli_registrar
from rserpool.cli.common import NO_SCTP_HINT, Parser
from rserpool.cli.options import SPELLINGS, parse_endpoint, parse_group, parse_identifier
from rserpool.proto.common import TransportAddress
from rserpool.proto.registrar import RegistrarConfig
from rserpool.scope import AddressScope

REPO = Path(__file__).resolve().parents[2]


def config_of(*argv: str) -> tuple[RegistrarConfig, dict[str, tuple[str, int]]]:
    rest, _notes = cli_registrar.translate(list(argv))
    args = build_parser().parse_args(["registrar", *rest])
    return cli_registrar.build_config(args)


def test_rspregistrar_command_lines_run_unchanged() -> None:
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


def test_rsplib_only_options_are_noted() -> None:
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


# ------------------------------------------------------------------------- usage errors

PROG = "rserpool registrar"


def usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run ``rserpool registrar ARGV`` in-process; it must fail with exit status 2 and
    exactly one line on standard error, which is returned without the frame around it."""
    try:
        code = main(["registrar", *argv])
    except SystemExit as exit_info:
        code = exit_info.code  # type: ignore[assignment]
    assert code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    prefix, suffix = f"{PROG}: error: ", f" (see {PROG} --help)\n"
    assert err.startswith(prefix) and err.endswith(suffix), err
    return err[len(prefix) : -len(suffix)]


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["--max-hr-rate", "nan"], "argument --max-hr-rate: not a finite number: 'nan'"),
        (["--max-hr-rate", "inf"], "argument --max-hr-rate: not a finite number: 'inf'"),
        (["--max-eu-rate=-inf"], "argument --max-eu-rate: not a finite number: '-inf'"),
        (["--max-hr-rate", "fast"], "argument --max-hr-rate: not a number: 'fast'"),
        (["--max-hr-rate", "-2"],
         "argument --max-hr-rate: must be -1 (unlimited) or a rate of at least 0 per second, "
         "not -2"),
        (["--max-hr-items", "-5"], "argument --max-hr-items: must be at least 1, not -5"),
        (["--max-hr-items", "0"], "argument --max-hr-items: must be at least 1, not 0"),
        (["--max-bad-pe-reports", "1.5"], "argument --max-bad-pe-reports: not a number: '1.5'"),
        (["--max-increment", "-1"], "argument --max-increment: must be at least 0, not -1"),
        (["--max-elements-per-ht-request", "4294967296"],
         "argument --max-elements-per-ht-request: must be at most 4.29497e+09, not 4294967296"),
        (["--peer-heartbeat-cycle", "-1000"],
         "argument --peer-heartbeat-cycle: must be at least 1, not -1000"),
        (["--takeover-expiry-interval", "0"],
         "argument --takeover-expiry-interval: must be at least 1, not 0"),
        (["--stats-interval", "10"], "argument --stats-interval: must be at least 100, not 10"),
        (["--identifier", "banana"], "argument --identifier: not an identifier: 'banana'"),
        (["--identifier", "0x100000000"],
         "argument --identifier: identifier out of range: '0x100000000'"),
        (["--asap", "0.0.0.0,192.0.2.1"],
         "argument --asap: '0.0.0.0,192.0.2.1': 0.0.0.0 means every address of this host and "
         "cannot be combined with other addresses"),
        (["--enrp", "192.0.2.1:9901,::"],
         "argument --enrp: '192.0.2.1:9901,::': :: means every address of this host and cannot "
         "be combined with other addresses"),
        (["--asap", "198.51.100.1:70000"],
         "argument --asap: bad port '70000' in '198.51.100.1:70000' (a port is 0-65535)"),
        (["--asap", "registrar.example:3863"],
         "argument --asap: not an IP address: 'registrar.example' in 'registrar.example:3863'"),
        (["--asap", "239.0.0.50:3863"],
         "argument --asap: '239.0.0.50:3863': 239.0.0.50 is a multicast address, not one of an "
         "SCTP endpoint"),
        (["--asap", "198.51.100.1,198.51.100.1"],
         "argument --asap: '198.51.100.1,198.51.100.1': an address is given twice"),
        (["--peer", "0.0.0.0"], "argument --peer: '0.0.0.0': 0.0.0.0 is no address to connect to"),
        (["--peer", "198.51.100.2:0"],
         "argument --peer: bad port '0' in '198.51.100.2:0' (a port is 1-65535)"),
        (["--enrp-announce", "198.51.100.1"],
         "argument --enrp-announce: not a multicast address: '198.51.100.1' (give auto, off or "
         "a group such as 239.0.0.51:9901)"),
        (["--asap-announce", "239.0.0.50:0"],
         "argument --asap-announce: '239.0.0.50:0': port 0 is no port for a multicast group"),
        (["--min-address-scope", "host"],
         "argument --min-address-scope: invalid choice: 'host' (choose from 'global', "
         "'loopback', 'site-local', 'sitelocal')"),
        (["--log-level", "loud"],
         "argument --log-level: invalid choice: 'loud' (choose from 'debug', 'info', "
         "'warning', 'error')"),
    ],
)  # fmt: skip
def test_bad_values_are_one_line_naming_the_option(
    capsys: pytest.CaptureFixture[str], argv: list[str], line: str
) -> None:
    assert usage_error(capsys, *argv) == line


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["-maxhrrate=nan"], "argument -maxhrrate: not a finite number: 'nan'"),
        (["-maxhresitems=-5"], "argument -maxhresitems: must be at least 1, not -5"),
        (["-peermaxtimenoresponse=-1"],
         "argument -peermaxtimenoresponse: must be at least 1, not -1"),
        (["-asap=0.0.0.0,192.0.2.1"],
         "argument -asap: '0.0.0.0,192.0.2.1': 0.0.0.0 means every address of this host and "
         "cannot be combined with other addresses"),
        (["-statsinterval=50"], "argument -statsinterval: must be at least 100, not 50"),
        (["-loglevel=loud"],
         "argument -loglevel: invalid choice: 'loud' (choose from 'debug', 'info', 'warning', "
         "'error')"),
    ],
)  # fmt: skip
def test_rsplib_spelled_options_are_named_as_typed(
    capsys: pytest.CaptureFixture[str], argv: list[str], line: str
) -> None:
    assert usage_error(capsys, *argv) == line


def test_an_address_below_the_minimum_scope_is_refused_with_the_fix(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert usage_error(capsys, "--asap", "127.0.0.1:3863") == (
        "argument --asap: 127.0.0.1 is a loopback address, below the minimum address scope "
        "site-local (PEs and PUs would be refused): add --min-address-scope loopback, or give "
        "an address of a larger scope"
    )
    assert usage_error(capsys, "--enrp", "192.0.2.1:9901,10.0.0.1", "--min-address-scope",
                       "global") == (
        "argument --enrp: 10.0.0.1 is a site-local address, below the minimum address scope "
        "global (peers would ignore it): add --min-address-scope site-local, or give an "
        "address of a larger scope"
    )  # fmt: skip
    assert usage_error(capsys, "-peer=127.0.0.2", "--transport", "kernel") == (
        "argument -peer: 127.0.0.2 is a loopback address, below the minimum address scope "
        "site-local (it would be ignored): add -minaddressscope=loopback, or give an address "
        "of a larger scope"
    )
    config, _groups = config_of("--asap", "127.0.0.1:3863", "--min-address-scope", "loopback")
    assert config.asap_addresses == (ipaddress.ip_address("127.0.0.1"),)


def test_over_udp_without_addresses_a_registrar_is_for_this_machine_alone() -> None:
    """``--transport udp`` and no address: loopback PEs are welcome, announces stay off (the
    loopback interface carries no multicast); given addresses keep the defaults."""
    rest, _notes = cli_registrar.translate(["--transport", "udp", "-peer=127.0.0.2"])
    args = build_parser().parse_args(["registrar", *rest])
    cli_registrar.loopback_defaults(args)
    config, _groups = cli_registrar.build_config(args)
    assert config.min_address_scope == AddressScope.LOOPBACK
    assert not config.asap_announce and not config.enrp_announce
    assert transport.on_loopback(args, [])
    assert not transport.on_loopback(args, ["192.0.2.1"])
    args.transport = "kernel"
    assert not transport.on_loopback(args, [])


def test_timers_outside_rsplibs_range_are_clamped_with_a_warning() -> None:
    rest, _notes = cli_registrar.translate(
        ["-endpointkeepalivetransmissioninterval=100", "--peer-max-time-no-response", "90000"]
    )
    Parser.spellings = dict(SPELLINGS)  # as rserpool.cli.main does
    args = build_parser().parse_args(["registrar", *rest])
    config, _groups = cli_registrar.build_config(args)
    assert config.endpoint_keep_alive_transmission_interval == 300
    assert config.peer_max_time_no_response == 60_000
    assert cli_registrar.clamp_warnings(args) == [
        "-endpointkeepalivetransmissioninterval 100 ms is below RSPLIB's minimum 300 ms: using 300",
        "--peer-max-time-no-response 90000 ms is above RSPLIB's maximum 60000 ms: using 60000",
    ]
    assert cli_registrar.clamp_warnings(build_parser().parse_args(["registrar"])) == []


@pytest.mark.parametrize(
    ("value", "level"), [("0", "error"), ("2", "warning"), ("3", "info"), ("9", "debug")]
)
def test_rsplib_loglevel_maps_onto_our_levels(value: str, level: str) -> None:
    rest, _notes = cli_registrar.translate([f"-loglevel={value}"])
    assert rest == ["--log-level", level]
    assert build_parser().parse_args(["registrar", *rest]).log_level == level


def test_rsplib_statistics_options_are_mapped() -> None:
    rest, notes = cli_registrar.translate(["-statsfile=/tmp/pr.json", "-statsinterval=5000"])
    assert notes == []
    args = build_parser().parse_args(["registrar", *rest])
    assert str(args.stats_file) == "/tmp/pr.json" and args.stats_interval == 5000


def subparser(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    sub: argparse.ArgumentParser = action.choices[name]
    return sub


@pytest.mark.parametrize("command", ["registrar", "hsdump"])
def test_help_shows_a_default_for_every_option(command: str) -> None:
    parser = subparser(command)
    formatter = parser._get_formatter()
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction) or not action.option_strings:
            continue
        assert action.help, action.option_strings
        text = formatter._get_help_string(action) or ""
        if action.nargs != 0:  # a value option: its default is shown
            assert "default" in text, action.option_strings


def test_help_text_shows_the_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["registrar", "--help"])
    assert exit_info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for expected in ("(default: 0.0.0.0:3863)", "(default: site-local)", "(default: 3)",
                     "(default: -1)", "(default: 2444)", "(default: 1000)", "SIGUSR1",
                     "use 'loopback' to try things out on one machine"):  # fmt: skip
        assert expected in out, expected


# --------------------------------------------------------------- the real command, no SCTP


def kernel_has_sctp() -> bool:
    try:
        socket.socket(socket.AF_INET, socket.SOCK_SEQPACKET, socket.IPPROTO_SCTP).close()
    except OSError:
        return False
    return True


def rserpool_command(*argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "rserpool", *argv],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_the_real_registrar_without_kernel_sctp_says_so_in_one_line() -> None:
    """On a machine without kernel SCTP: one line, exit 1. With SCTP, the same command runs
    the registrar, which says so and ends cleanly on SIGTERM (exit 0, nothing on stderr)."""
    process = rserpool_command(
        "registrar", "--asap", "127.0.0.1:0", "--min-address-scope", "loopback",
        "--transport", "kernel",
    )  # fmt: skip
    if not kernel_has_sctp():
        out, err = process.communicate(timeout=60)
        assert (process.returncode, out) == (1, "transport: kernel SCTP\n")
        assert err == f"rserpool registrar: error: {NO_SCTP_HINT}\n"
        return
    assert process.stdout is not None
    try:
        for line in process.stdout:  # pragma: no branch
            if " running: ASAP " in line:
                break
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0 and err == ""


def test_a_usage_error_is_one_line_and_exit_status_2_for_real() -> None:
    process = rserpool_command("registrar", "-maxhrrate=nan")
    out, err = process.communicate(timeout=60)
    assert (process.returncode, out) == (2, "")
    assert err == (
        "rserpool registrar: error: argument -maxhrrate: not a finite number: 'nan' "
        "(see rserpool registrar --help)\n"
    )
    process = rserpool_command("registrar", "--asap", "127.0.0.1:3863")
    out, err = process.communicate(timeout=60)
    assert (process.returncode, out) == (2, "")
    assert err.count("\n") == 1 and "add --min-address-scope loopback" in err


def test_over_udp_a_client_binds_the_address_it_reaches_the_registrar_from() -> None:
    """No --local: toward a registrar on loopback (or none), the loopback system; toward one
    elsewhere, the source address this machine's routing picks for it."""
    args = argparse.Namespace(transport="udp")
    assert transport.on_loopback(args, [], [])
    assert transport.on_loopback(args, [], ["127.0.0.1"])
    assert not transport.on_loopback(args, [], ["192.0.2.1"])
    assert transport.source_toward("127.0.0.5") == "127.0.0.1"
