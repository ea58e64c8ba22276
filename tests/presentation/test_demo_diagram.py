"""``make demo`` draws its capture as a sequence diagram next to it and says where."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from interop.demo import write_diagram
from rserpool.capture import read_capture

DEMO_CAPTURE = Path(__file__).parent.parent / "data" / "captures" / "udp-loopback.pcapng"
REPO = Path(__file__).parent.parent.parent
SVG = "{http://www.w3.org/2000/svg}"


def test_write_diagram_next_to_the_capture(tmp_path: Path) -> None:
    path = tmp_path / "demo.pcapng"
    shutil.copy(DEMO_CAPTURE, path)
    line = write_diagram(read_capture(path.read_bytes()), path)
    assert line == (f"sequence diagram: {tmp_path / 'demo.svg'} (Mermaid text: demo.mmd), "
                    "5 lifelines, 19 arrows")  # fmt: skip
    root = ET.parse(tmp_path / "demo.svg").getroot()
    assert len(root.findall(f"{SVG}line[@class='lifeline']")) == 5
    assert (tmp_path / "demo.mmd").read_text().startswith("sequenceDiagram\n    %% demo.pcapng")


def test_the_udp_demo_writes_its_diagram(tmp_path: Path) -> None:
    """The whole demo over SCTP over UDP on loopback (about 10 s; tshark captures as root)."""
    env = {**os.environ, "RSERPOOL_DEMO_OUT": str(tmp_path), "PYTHONPATH": str(REPO)}
    run = subprocess.run([sys.executable, "-m", "interop.demo", "--udp"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    said = [line for line in run.stdout.splitlines() if line.startswith("sequence diagram: ")]
    assert said == [line for line in said if f"{tmp_path / 'demo.svg'} (Mermaid text" in line]
    assert len(said) == 1 and said[0].endswith(" arrows")
    root = ET.parse(tmp_path / "demo.svg").getroot()
    boxes = root.findall(f"{SVG}g[@class='participant']")
    names = [next(box.iter(f"{SVG}text")).text for box in boxes]  # each box: its name first
    assert names[:2] == ["PU 127.0.0.1", "PR $00000101"] and len(names) == 5
    labels = [t.text or "" for g in root.findall(f"{SVG}g[@class='message']")
              for t in g.iter(f"{SVG}text")][1::2]  # fmt: skip
    registrations = [label for label in labels if label.startswith("Registration: EchoPool")]
    assert len(registrations) == 3
    # the pool user resolves again after its PE was killed: the failover
    assert len([label for label in labels if label == "Handle Resolution: EchoPool"]) == 2
