"""The annotated dump names every header field and parameter field, at the right offsets."""

from __future__ import annotations

import re

import pytest

from rserpool.wire import Message, dump, encode_message, ppid_of

from .samples import SAMPLES
from .test_vectors import REGISTRATION

LINE = re.compile(r"^([0-9a-f]{4})  ([0-9a-f]{2}(?: [0-9a-f]{2})*)(?:  +(.*))?$")


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
def test_dump_covers_every_byte(message: Message) -> None:
    data = encode_message(message)
    text = dump(data, ppid_of(message))
    covered = bytearray(len(data))
    for line in text.splitlines()[:-1]:
        match = LINE.match(line)
        assert match, line
        offset, raw = int(match[1], 16), bytes.fromhex(match[2])
        assert data[offset : offset + len(raw)] == raw, line
        for i in range(offset, offset + len(raw)):
            covered[i] += 1
    assert all(c == 1 for c in covered), "every byte is shown exactly once"
    assert text.splitlines()[-1] == "=> " + message.summary()


def test_dump_of_registration_names_rfc_fields() -> None:
    text = dump(REGISTRATION, 11)
    for name in [
        "Message Type = 0x01 (ASAP REGISTRATION)",
        "Message Flags = 0x00",
        "Message Length = 56",
        "Parameter Type = 0x0009 (Pool Handle; action bits: stop)",
        "Pool Handle = b'EchoPool'",
        "PE Identifier = 0x12345678",
        "Home ENRP Server Identifier = 0x00000000",
        "Registration Life = 0x00015f90 (90000) ms",
        "SCTP Port = 38022",
        "Transport Use = 0x0000 (DATA_ONLY)",
        "IPv4 Address = 192.0.2.1",
        "Policy Type = 0x00000001 (ROUND_ROBIN)",
    ]:
        assert name in text


def test_dump_names_flags_fixed_fields_and_padding() -> None:
    by_type = {type(m).__name__: dump(encode_message(m), ppid_of(m)) for m in SAMPLES}
    assert "[H (home)=1]" in by_type["EndpointKeepAlive"]
    assert "Server Identifier = 0x0a0a0a0a" in by_type["EndpointKeepAlive"]
    assert "[R (reject)=0, M (more to send)=1]" in by_type["HandleTableResponse"]
    assert "Sending Server's ID = 0x0a0a0a0a" in by_type["ListRequest"]
    assert "Receiving Server's ID = 0x0b0b0b0b" in by_type["ListRequest"]
    assert "Update Action = 0x0000 (ADD_PE)" in by_type["HandleUpdate"]
    assert "Targeting Server's ID = 0x0c0c0c0c" in by_type["TakeoverServer"]
    assert "PE Checksum = 0x29a5" in by_type["Presence"]
    assert "Items = 0xffffffff (all)" in by_type["HandleResolution"]
    assert "Cause Code = 0x0001 (UNRECOGNIZED_PARAMETER)" in by_type["AsapError"]
    assert "Cause-Specific Information" in by_type["AsapError"]
    assert "(padding)" in by_type["Presence"]
    assert "Load = 0x40000000" in by_type["Registration"]


def test_dump_of_malformed_input_says_where() -> None:
    text = dump(REGISTRATION[:30], 11)
    assert "!!" in text
    assert text.splitlines()[-1].startswith("=> DecodeError:")
