"""The option parsing of ``rserpool server|terminal|pingpong`` (RSPLIB spellings included)."""

from __future__ import annotations

import argparse
import ipaddress

import pytest

from rserpool.cli import build_parser
from rserpool.cli.roles import parse_local, parse_policy, translators
from rserpool.drivers._asap_client import registrar_addresses
from rserpool.wire import PolicyType


def parse(argv: list[str]) -> argparse.Namespace:
    command, *rest = argv
    rest, _notes = translators()[command](rest)
    return build_parser().parse_args([command, *rest])


def test_rsplib_spellings_of_rspserver() -> None:
    args = parse(["server", "-pingpong", "-poolhandle=PP", "-registrar=10.0.0.1:3863",
                  "-registrar=10.0.0.2:3863,10.1.0.2", "-identifier=0x2001",
                  "-policy=WeightedRoundRobin:5", "-local=192.0.2.1,192.0.2.2:7000",
                  "-rereginterval=1000"])  # fmt: skip
    assert args.service == "pingpong" and args.pool_handle == "PP"
    assert [str(r) for r in args.registrar] == ["10.0.0.1:3863", "10.0.0.2,10.1.0.2:3863"]
    assert args.identifier == 0x2001 and args.rereg_interval == 1000
    assert args.policy.policy_type is PolicyType.WEIGHTED_ROUND_ROBIN and args.policy.weight == 5
    assert (
        args.local == parse_local("192.0.2.1,192.0.2.2:7000") == (["192.0.2.1", "192.0.2.2"], 7000)
    )


def test_log_file_options_are_noted_and_ignored_log_level_is_mapped() -> None:
    rest, notes = translators()["terminal"](["-poolhandle=X", "-logfile=a", "-loglevel=5"])
    assert rest == ["--pool-handle", "X", "--log-level", "debug"]
    assert len(notes) == 1 and "has no effect" in notes[0]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("RoundRobin", {"policy_type": PolicyType.ROUND_ROBIN}),
        ("Priority:3", {"policy_type": PolicyType.PRIORITY, "priority": 3}),
        ("LeastUsed", {"policy_type": PolicyType.LEAST_USED, "load": 0}),
        (
            "LeastUsedDegradation:0.5",
            {"policy_type": PolicyType.LEAST_USED_DEGRADATION, "load_degradation": 0x80000000},
        ),
        ("WeightedRandomDPF:7:0", {"weight": 7, "weight_dpf": 0}),
    ],
)
def test_policy_specs(spec: str, expected: dict[str, object]) -> None:
    policy = parse_policy(spec)
    for name, value in expected.items():
        assert getattr(policy, name) == value


@pytest.mark.parametrize(
    "spec", ["Nonsense", "Priority:x", "RoundRobin:1", "LeastUsedDegradation:2"]
)
def test_bad_policy_specs(spec: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_policy(spec)


def test_registrar_addresses() -> None:
    (one, two) = registrar_addresses(["10.0.0.1:3863", "10.0.0.2:9000,10.1.0.2"])
    assert one.port == 3863 and two.port == 9000
    assert two.addresses == (ipaddress.ip_address("10.0.0.2"), ipaddress.ip_address("10.1.0.2"))
    for bad in ("10.0.0.1", "10.0.0.1:0", "nohost:3863"):
        with pytest.raises(ValueError):
            registrar_addresses([bad])
