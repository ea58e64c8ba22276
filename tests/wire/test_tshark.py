"""Wireshark's ASAP/ENRP dissectors decode every message type we encode, with no malformed frame.

Writes a pcap (raw IPv4 / SCTP with a valid CRC32c / one DATA chunk, PPID 11 or 12) holding one
instance of every message, then reads it back with tshark. tshark must be installed (the
Makefile installs it): a missing tshark fails this test.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from rserpool.wire import Message, encode_message, ppid_of

from .pcap import sctp_packet, write_pcap
from .samples import SAMPLES

FIELDS = [
    "sctp.checksum.status",
    "asap.message_type",
    "enrp.message_type",
    "asap.pool_handle_pool_handle",
    "enrp.pool_handle_pool_handle",
    "asap.pe_identifier",
    "asap.pool_element_pe_identifier",
    "enrp.pool_element_pe_identifier",
    "asap.hropt_items",
    "asap.server_identifier",
    "asap.cookie",
    "asap.cause_code",
    "enrp.cause_code",
    "enrp.sender_servers_id",
    "enrp.receiver_servers_id",
    "enrp.target_servers_id",
    "enrp.pe_checksum",
    "enrp.update_action",
    "enrp.server_information_server_identifier",
    "asap.h_bit",
    "asap.r_bit",
    "enrp.m_bit",
    "enrp.t_bit",
    "enrp.w_bit",
    "asap.pool_member_selection_policy_type",
    "enrp.pool_member_selection_policy_type",
]


def tshark(*args: str) -> str:
    binary = shutil.which("tshark") or "/usr/bin/tshark"
    result = subprocess.run(
        [binary, "-n", "-o", "sctp.checksum:CRC 32c", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def same(got: str, want: str) -> bool:
    """Equal as numbers (tshark prints some fields in decimal, some in hex) or as text."""
    try:
        return int(got, 0) == int(want, 0)
    except ValueError:
        return got.lower() == want.lower()


def expected_fields(m: Message) -> dict[str, str]:
    """The key fields of ``m`` as tshark prints them (first occurrence)."""
    proto = ppid_of(m).name.lower()
    want = {f"{proto}.message_type": str(m.TYPE), "sctp.checksum.status": "1"}
    attrs = {name: getattr(m, name) for name in dir(m) if not name.startswith("_")}
    if "pool_handle" in attrs:
        want[f"{proto}.pool_handle_pool_handle"] = attrs["pool_handle"].hex()
    if isinstance(attrs.get("pe_id"), int):
        want["asap.pe_identifier"] = f"{attrs['pe_id']:#010x}"
    pes = attrs.get("pool_elements") or ([attrs["pool_element"]] if "pool_element" in attrs else [])
    if attrs.get("entries"):
        pes = attrs["entries"][0].pool_elements
    if pes:
        want[f"{proto}.pool_element_pe_identifier"] = f"{pes[0].pe_id:#010x}"
        want[f"{proto}.pool_member_selection_policy_type"] = f"{pes[0].policy.policy_type:#010x}"
    if attrs.get("items") is not None:
        want["asap.hropt_items"] = str(attrs["items"])
    if "server_id" in attrs:
        want["asap.server_identifier"] = f"{attrs['server_id']:#010x}"
    if "cookie" in attrs:
        want["asap.cookie"] = attrs["cookie"].hex()
    if attrs.get("error") is not None:
        want[f"{proto}.cause_code"] = f"{attrs['error'].code:#06x}"
    if proto == "enrp":
        want["enrp.sender_servers_id"] = f"{attrs['sender_id']:#010x}"
        want["enrp.receiver_servers_id"] = f"{attrs['receiver_id']:#010x}"
    if "target_id" in attrs:
        want["enrp.target_servers_id"] = f"{attrs['target_id']:#010x}"
    if "pe_checksum" in attrs:
        want["enrp.pe_checksum"] = f"{attrs['pe_checksum']:#06x}"
    if "action" in attrs:
        want["enrp.update_action"] = f"{attrs['action']:#06x}"
    if attrs.get("server_information") is not None:
        want["enrp.server_information_server_identifier"] = (
            f"{attrs['server_information'].server_id:#010x}"
        )
    for flag, field in [
        ("home", "asap.h_bit"),
        ("more_to_send", "enrp.m_bit"),
        ("takeover_suggested", "enrp.t_bit"),
        ("own_children_only", "enrp.w_bit"),
    ]:
        if flag in attrs:
            want[field] = "1" if attrs[flag] else "0"
    if proto == "asap" and "reject" in attrs:
        want["asap.r_bit"] = "1" if attrs["reject"] else "0"
    return want


def test_tshark_decodes_every_message(tmp_path: Path) -> None:
    pcap = tmp_path / "all-messages.pcap"
    packets = [
        sctp_packet(encode_message(m), int(ppid_of(m)), 3863 if m.PPID == 11 else 9901, i + 1)
        for i, m in enumerate(SAMPLES)
    ]
    write_pcap(str(pcap), packets)

    out = tshark("-r", str(pcap), "-Y", "asap || enrp", "-T", "fields", "-E", "separator=|",
                 *[arg for f in FIELDS for arg in ("-e", f)])  # fmt: skip
    rows = [line.split("|") for line in out.splitlines()]
    assert len(rows) == len(SAMPLES) == 24
    checked = 0
    for message, row in zip(SAMPLES, rows, strict=True):
        got = {name: value.split(",")[0] for name, value in zip(FIELDS, row, strict=True)}
        for field, value in expected_fields(message).items():
            assert same(got[field], value), (message.summary(), field, got[field])
            checked += 1
    assert checked > 24 * 4

    bad = tshark("-r", str(pcap), "-Y", "_ws.malformed || _ws.expert.severity >= 0x00600000",
                 "-T", "fields", "-e", "frame.number", "-e", "_ws.expert.message")  # fmt: skip
    assert bad.strip() == ""
