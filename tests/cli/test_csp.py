"""``--csp-server``/``--csp-interval``/``--csp-identifier``, RSPLIB's ``-csp*=`` spellings and
``CSP_SERVER``/``CSP_INTERVAL``: parsed, checked (one line, exit status 2), and turned into the
reporter each role runs."""

from __future__ import annotations

import argparse

import pytest

from rserpool.cli import main
from rserpool.cli import registrar as cli_registrar
from rserpool.cli.common import UsageError
from rserpool.cli.csp import CspSettings, csp_settings, reporter
from rserpool.proto.csp import ReportFields
from rserpool.wire.csp import ComponentGroup, component_id, group_of, object_of
from tests.cli.helpers import parse


def registrar_args(argv: list[str]) -> argparse.Namespace:
    rest, _notes = cli_registrar.translate(argv)
    from rserpool.cli import build_parser

    return build_parser().parse_args(["registrar", *rest])


def test_options_and_rsplib_spellings() -> None:
    args = parse(["pingpong", "-cspserver=198.51.100.9", "-cspinterval=300",
                  "-cspidentifier=0x55"])  # fmt: skip
    assert (args.csp_server, args.csp_interval, args.csp_identifier) == (
        ("198.51.100.9", 2960), 300, 0x55)  # fmt: skip
    args = parse(["server", "--csp-server", "[2001:db8::9]:3000", "--csp-interval", "250"])
    assert (args.csp_server, args.csp_interval) == (("2001:db8::9", 3000), 250)
    args = registrar_args(["-cspserver=198.51.100.9:2961", "-cspinterval=1000"])
    assert (args.csp_server, args.csp_interval) == (("198.51.100.9", 2961), 1000)
    assert "csp_identifier" not in vars(args)  # rspregistrar has no -cspidentifier


@pytest.mark.parametrize(
    ("command", "argv", "message"),
    [
        ("registrar", ["--csp-interval", "249"],
         "argument --csp-interval: must be at least 250, not 249"),
        ("registrar", ["-cspinterval=100"], "argument -cspinterval: must be at least 250, not 100"),
        ("server", ["--csp-server", "monitor.example"],
         "argument --csp-server: not an IP address: 'monitor.example'"),
        ("pingpong", ["-cspserver=198.51.100.9:0"],
         "argument -cspserver: bad port '0' in '198.51.100.9:0' (a port is 1-65535)"),
        ("terminal", ["--csp-server", "0.0.0.0"],
         "argument --csp-server: '0.0.0.0': 0.0.0.0 is no address to report to"),
        ("terminal", ["--csp-identifier", "0x1ffffffff"],
         "argument --csp-identifier: identifier out of range: '0x1ffffffff'"),
    ],
)  # fmt: skip
def test_bad_options_are_one_line(
    command: str, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, *argv])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == (
        f"rserpool {command}: error: {message} (see rserpool {command} --help)\n"
    )


@pytest.mark.parametrize("command", ["registrar", "server", "pingpong"])
def test_a_bad_environment_is_a_usage_error(
    command: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CSP_SERVER", "198.51.100.9")
    monkeypatch.setenv("CSP_INTERVAL", "100")
    assert main([command, "--transport", "udp"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"rserpool {command}: error: environment variable CSP_INTERVAL='100': must be at least "
        f"250, not 100 (see rserpool {command} --help)\n"
    )


def test_settings_need_a_monitor_and_an_interval() -> None:
    args = parse(["pingpong"])
    assert csp_settings(args, {}) is None
    assert csp_settings(args, {"CSP_SERVER": "198.51.100.9"}) is None
    assert csp_settings(args, {"CSP_INTERVAL": "500"}) is None
    env = {"CSP_SERVER": "198.51.100.9:2999", "CSP_INTERVAL": "500"}
    assert csp_settings(args, env) == CspSettings(("198.51.100.9", 2999), 500)
    args = parse(["pingpong", "--csp-interval", "400", "--csp-identifier", "7"])
    assert csp_settings(args, env) == CspSettings(("198.51.100.9", 2999), 400, 7)  # option wins
    with pytest.raises(UsageError, match="CSP_SERVER='nowhere'"):
        csp_settings(args, {"CSP_SERVER": "nowhere"})


def test_component_ids() -> None:
    def fields(now: int) -> ReportFields:
        return ReportFields("", "")

    settings = CspSettings(("198.51.100.9", 2960), 300)
    assert reporter(None, ComponentGroup.REGISTRAR, 0x101, fields) is None
    made = reporter(settings, ComponentGroup.REGISTRAR, 0x101, fields)
    assert made is not None and made.component_id == component_id(1, 0x101)
    assert made.interval_us == 300_000
    pu_ids = set()
    for _ in range(20):
        pu = reporter(settings, ComponentGroup.POOL_USER, None, fields)
        assert pu is not None and group_of(pu.component_id) == 3
        pu_ids.add(object_of(pu.component_id))
    assert len(pu_ids) == 20 and 0 not in pu_ids and max(pu_ids) < 2**56
    assert max(pu_ids) >= 2**40  # 56 random bits, not 32
    named = reporter(CspSettings(("::1", 2960), 250, 0x77), ComponentGroup.POOL_USER, None, fields)
    assert named is not None and named.component_id == component_id(3, 0x77)
