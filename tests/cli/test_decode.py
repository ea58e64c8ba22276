"""``rserpool decode FILE`` and ``rserpool decode --hex BYTES``: output, errors, exit status."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rserpool.cli import main
from rserpool.cli.decode import parse_hex
from rserpool.wire import encode_message
from tests.capture.builder import capture, data_chunk, fragments, sctp, udp
from tests.wire.samples import SAMPLES

REGISTRATION, PRESENCE, HT_RESPONSE = SAMPLES[0], SAMPLES[14], SAMPLES[16]
ANNOUNCE = SAMPLES[9]
UNDECODABLE = b"\x01\x00\x00\x08\x00\x09\x00\x04"  # a Registration with an empty pool handle


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["decode", *argv])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "good.pcapng"
    packets = [sctp([data_chunk(REGISTRATION, 1)]), udp(ANNOUNCE)]
    packets += [sctp([part], sport=9901, dport=9901, vtag=9) for part in
                fragments(HT_RESPONSE, 50, [40, 40])]  # fmt: skip
    path.write_bytes(capture(packets))
    return path


def test_one_line_per_message_then_a_summary(
    good: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, str(good))
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith("#1       0.000000 sctp 192.0.2.1:40000 -> 192.0.2.2:3863  ")
    assert "ASAP Registration: PE $12345678 asks its home registrar" in lines[0]
    assert lines[1].startswith("#2       0.010000 udp 192.0.2.1:3863 -> 239.0.0.50:3863  ")
    assert "ASAP Server Announce: registrar $0a0a0a0a announces itself" in lines[1]
    assert lines[2].startswith("#5       0.040000 sctp 192.0.2.1:9901 -> 192.0.2.2:9901  ")
    assert "ENRP Handle Table Response: registrar $0a0a0a0a sends" in lines[2]
    assert lines[3] == "3 ASAP/ENRP messages in 5 frames, 0 undecodable"
    assert len(lines) == 4


def test_verbose_adds_summary_and_annotated_dump(
    good: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(capsys, "-v", str(good))
    assert status == 0
    assert "      ASAP Registration EchoPool PE 0x12345678" in out
    assert "      0000  01                       Message Type = 0x01 (ASAP REGISTRATION)" in out
    assert "      reassembled from 3 SCTP DATA chunks" in out
    assert "      => ENRP Handle Table Response" in out


def test_undecodable_messages_are_listed_counted_and_fail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.pcap"
    path.write_bytes(
        capture([sctp([data_chunk(UNDECODABLE, 1, ppid=11)]), udp(ANNOUNCE)], ng=False)
    )
    status, out, err = run(capsys, "-v", str(path))
    assert (status, err) == (1, "")
    lines = out.splitlines()
    assert lines[0] == (
        "#1       0.000000 sctp 192.0.2.1:40000 -> 192.0.2.2:3863  ASAP message undecodable "
        "(8 bytes): parameter 0x0009: empty pool handle (at offset 0x4)"
    )
    assert "      => DecodeError:" in out  # the dump shows where it goes wrong
    assert lines[-1] == "2 ASAP/ENRP messages in 2 frames, 1 undecodable"


def test_incomplete_duplicates_and_skipped_frames_in_the_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, _, last = fragments(HT_RESPONSE, 5, [40, 40])
    fragment = sctp([data_chunk(PRESENCE, 1)])
    fragment.offset = 8
    bad_udp = udp(ANNOUNCE)
    bad_udp.data = b"\x0e"
    chunk = data_chunk(PRESENCE, 30)
    path = tmp_path / "odd.pcapng"
    path.write_bytes(capture([sctp([first]), sctp([last]), sctp([chunk]), sctp([chunk]),
                              fragment, bad_udp]))  # fmt: skip
    status, out, _ = run(capsys, str(path))
    assert status == 0  # a capture that began mid-message is no decoding failure
    assert "ENRP message incomplete (40 bytes): only 1 fragment(s) captured" in out
    assert out.splitlines()[-1] == (
        "1 ASAP/ENRP messages in 6 frames, 0 undecodable, 2 incomplete, 1 retransmitted DATA "
        "chunk(s) dropped, 1 IP fragment(s) skipped, 1 frame(s) with an unreadable UDP/SCTP "
        "header"
    )


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.pcapng"
    assert run(capsys, str(missing)) == (
        1, "", f"rserpool decode: error: cannot read {missing}: No such file or directory\n"
    )  # fmt: skip
    assert run(capsys, str(tmp_path)) == (
        1, "", f"rserpool decode: error: cannot read {tmp_path}: Is a directory\n"
    )  # fmt: skip


def test_not_a_capture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a capture\n")
    assert run(capsys, str(path)) == (
        1, "", f"rserpool decode: error: {path}: not a pcap or pcapng file\n"
    )  # fmt: skip


def test_truncated_capture_prints_what_it_read_then_fails(
    good: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good.write_bytes(good.read_bytes()[:-10])
    status, out, err = run(capsys, str(good))
    assert status == 1
    assert err == f"rserpool decode: error: {good}: the file is cut short in frame 5\n"
    assert out.splitlines()[-1] == "2 ASAP/ENRP messages in 4 frames, 0 undecodable, 1 incomplete"


def test_corrupt_capture(good: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = good.read_bytes()
    good.write_bytes(data[:12] + b"\x09\x00" + data[14:])  # pcapng major version 9
    assert run(capsys, str(good)) == (
        1, "", f"rserpool decode: error: {good}: corrupt file header: unknown pcapng version 9.0\n"
    )  # fmt: skip


# ------------------------------------------------------------------------------- --hex


def test_hex_prints_summary_explanation_and_dump(capsys: pytest.CaptureFixture[str]) -> None:
    text = " ".join(f"{b:02x}" for b in encode_message(REGISTRATION))
    status, out, err = run(capsys, "--hex", text)
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == REGISTRATION.summary()
    assert lines[1].startswith("  = PE $12345678 asks its home registrar")
    assert lines[2] == "0000  01                       Message Type = 0x01 (ASAP REGISTRATION)"
    assert lines[-1] == f"=> {REGISTRATION.summary()}"


@pytest.mark.parametrize(
    "flags", [[], ["--ppid", "12"], ["--protocol", "enrp"]], ids=["guess", "ppid", "protocol"]
)
def test_hex_enrp_with_colons(flags: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    text = encode_message(PRESENCE).hex(":")
    status, out, _ = run(capsys, "--hex", text, *flags)
    assert status == 0
    assert out.splitlines()[0] == PRESENCE.summary()
    assert "Message Type = 0x01 (ENRP PRESENCE)" in out


def test_hex_as_the_wrong_protocol_does_not_decode(capsys: pytest.CaptureFixture[str]) -> None:
    text = encode_message(PRESENCE).hex()
    status, out, err = run(capsys, "--hex", text, "--protocol", "asap")
    assert (status, out) == (1, "")
    assert err == (
        "rserpool decode: error: 44 bytes do not decode: not ASAP: parameter 0x0a0a length 2570 "
        "does not fit in 40 bytes (at offset 0x4)\n"
    )


def test_hex_that_does_not_decode_shows_the_reason(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "--hex", "01 00 00 08 00 09 00 04", "--ppid", "11")
    assert (status, out) == (1, "")
    assert err == (
        "rserpool decode: error: 8 bytes do not decode: not ASAP: parameter 0x0009: empty pool "
        "handle (at offset 0x4)\n"
    )
    status, out, err = run(capsys, "-v", "--hex", "01 00 00 08 00 09 00 04", "--ppid", "11")
    assert status == 1 and "=> DecodeError" in out


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("01 0g", "'g' is not a hex digit"),
        ("010", "an odd number of hex digits (3)"),
        ("  ", "no hex digits"),
    ],
)
def test_hex_that_is_not_hex_is_a_usage_error(
    text: str, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "--hex", text) == (
        2,
        "",
        f"rserpool decode: error: --hex: not hex: {reason} (see rserpool decode --help)\n",
    )


def test_parse_hex_spellings() -> None:
    assert parse_hex("01:02 03\n04") == parse_hex("0x01020304") == b"\x01\x02\x03\x04"


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        ([], "give a capture FILE, or --hex BYTES"),
        (["x.pcap", "--hex", "00"], "give a FILE or --hex BYTES, not both"),
        (["x.pcap", "--ppid", "11"], "--ppid and --protocol go with --hex"),
    ],
)
def test_usage_errors(argv: list[str], reason: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, *argv) == (
        2,
        "",
        f"rserpool decode: error: {reason} (see rserpool decode --help)\n",
    )


def test_unexpected_errors_are_one_line_without_v_and_a_traceback_with_it(
    good: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(data: bytes, udp_port: int | None = None) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("rserpool.capture.read_capture", broken)
    assert run(capsys, str(good)) == (
        1,
        "",
        "rserpool decode: error: internal error: RuntimeError: a bug\n",
    )
    status, _, err = run(capsys, "-v", str(good))
    assert status == 1 and "Traceback" in err and err.endswith("RuntimeError: a bug\n")


def test_the_command_never_shows_a_traceback(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pcapng"
    junk.write_bytes(b"\x0a\x0d\x0d\x0a" + bytes(range(256)) * 3)
    for argv in ([str(junk)], [str(tmp_path / "missing")], ["--hex", "zz"], ["--hex", "0100"]):
        done = subprocess.run(
            [sys.executable, "-m", "rserpool", "decode", *argv], capture_output=True, text=True
        )
        assert done.returncode in (1, 2), argv
        assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1, done.stderr


# ------------------------------------------------------------------------------- diagrams

REAL = Path(__file__).parent.parent / "data" / "captures" / "udp-loopback.pcapng"


def test_svg_and_mermaid_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    svg, mermaid = tmp_path / "flow.svg", tmp_path / "flow.mmd"
    status, out, err = run(capsys, str(REAL), "--svg", str(svg), "--mermaid", str(mermaid))
    assert (status, err) == (0, "")
    what = "sequence diagram, 5 lifelines, 19 arrows for 19 ASAP/ENRP messages"
    assert out.splitlines() == [f"{svg}: {what}", f"{mermaid}: {what}"]
    assert svg.read_text().startswith("<svg xmlns=") and svg.read_text().endswith("</svg>\n")
    assert mermaid.read_text().startswith("sequenceDiagram\n    %% udp-loopback.pcapng\n")


def test_mermaid_to_standard_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, str(REAL), "--mermaid", "-", "--svg", str(tmp_path / "x.svg"))
    assert (status, err) == (0, "")
    assert out.startswith("sequenceDiagram\n") and "(0.037 s)" in out  # nothing else on stdout
    assert (tmp_path / "x.svg").exists()


def test_diagram_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, str(REAL), "--svg", str(tmp_path / "no" / "such" / "x.svg"))
    assert (status, out) == (1, "")
    where = tmp_path / "no" / "such" / "x.svg"
    assert err == f"rserpool decode: error: cannot write {where}: No such file or directory\n"
    status, out, err = run(capsys, str(tmp_path / "missing.pcapng"), "--mermaid", "-")
    assert (status, out, len(err.splitlines())) == (1, "", 1) and "cannot read" in err
    for argv in (["--svg", "x.svg"], ["--hex", "01", "--mermaid", "-"],
                 [str(REAL), "--svg", "-", "--mermaid", "-"]):  # fmt: skip
        status, out, err = run(capsys, *argv)
        assert (status, out, len(err.splitlines())) == (2, "", 1), argv
        assert err.startswith("rserpool decode: error: ")
