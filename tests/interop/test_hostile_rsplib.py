"""Our registrar under a hostile association over real SCTP, while RSPLIB 3.4.4 keeps working.

One topology: our registrar (pr), three ``rspserver -echo`` PEs and an ``rspterminal`` PU
(cl), and a hostile client written here (evil, its own namespace and link) that

1. reads the PE ids from a Handle Resolution and deregisters them on its own association:
   refused with cause 0x000a, the PEs stay;
2. registers one of those ids from its own address: refused with 0x000a, the PE's transport
   is unchanged;
3. sends a ~64 KB Registration (unknown skip-bit parameters in the user transport): stored
   small (or refused), the registrar goes on;
4. sends a few hundred mutated and garbage ASAP messages (seeded) and messages with a wrong
   PPID (unknown PPIDs are ignored, ENRP's PPID on the ASAP port costs the association).

Meanwhile the PU sends one line after another and every one comes back. At the end the
registrar is alive and answers ``rserpool hsdump --json`` with the three PEs, and the capture
of every frame the registrar sent has nothing malformed, for tshark and ``rserpool.capture``
alike (the hostile side's garbage is malformed by design and is only counted).

docs/registrar.md, "Hostile input", has the rules; tests/proto/registrar/test_hostile_asap*.py
prove them on the simulator.
"""

from __future__ import annotations

import json
import random
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import ip_address
from pathlib import Path

import pytest
import trio

from interop import rsplib
from interop.capture import Capture, cross_check, decode
from interop.processes import Process, ProcessError, rserpool
from interop.topology import Host, Topology
from rserpool.handlespace import MAX_STORED_PE_SIZE
from rserpool.transport.abc import CommLost, SctpMessage, ShutdownComplete
from rserpool.transport.kernel import KernelAssociation, KernelHost
from rserpool.wire import (
    PPID,
    Cause,
    Deregistration,
    DeregistrationResponse,
    EndpointKeepAlive,
    EndpointKeepAliveAck,
    EndpointUnreachable,
    HandleResolution,
    HandleResolutionResponse,
    Message,
    Policy,
    PolicyType,
    PoolElement,
    PoolMemberSelectionPolicy,
    Registration,
    RegistrationResponse,
    SctpTransport,
    decode_message_untrusted,
    encode_message,
)
from rserpool.wire.tlv import UnknownParameter

pytestmark = pytest.mark.rsplib

SLOW = 120  # s: Python and tshark startup under TCG
PE_IDS = (0x2001, 0x2002, 0x2003)
ECHO = b"EchoPool"
HOSTILE_POOL = b"HostilePool"
SECURITY = Cause.REJECTED_DUE_TO_SECURITY_CONSIDERATIONS
MUTATED = 300
SEED = 5356
BLOATED_ID = 0x66660100


# ------------------------------------------------------------------ the pool user's echoes


@dataclass
class Echoes:
    """Lines sent by rspterminal one after another, each waited for before the next."""

    terminal: Process
    sent: int = 0
    echoed: int = 0
    error: str | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        try:
            while not self.done.is_set():
                text = f"echo-{self.sent:05d}"
                self.terminal.send_line(text)
                self.sent += 1
                self.terminal.wait_for(rf"from PE \$[0-9A-Fa-f]+> {text}\b", timeout=60)
                self.echoed += 1
        except (ProcessError, OSError) as exc:
            self.error = str(exc)


# ------------------------------------------------------------------ the hostile client


@dataclass
class Hostile:
    """One association of the hostile client: everything received is decoded (the registrar
    must send nothing undecodable) and kept; Endpoint Keep Alives are acknowledged, so that a
    PE a mutated Registration got accepted does not cost the association."""

    assoc: KernelAssociation
    inbox: list[Message] = field(default_factory=list)
    undecodable: list[str] = field(default_factory=list)
    ended: bool = False
    news: trio.Event = field(default_factory=trio.Event)

    def _notify(self) -> None:
        self.news.set()
        self.news = trio.Event()

    async def read(self) -> None:
        try:
            await self._read()
        finally:
            self.ended = True
            self._notify()

    async def _read(self) -> None:
        while True:
            try:
                item = await self.assoc.receive()
            except (trio.EndOfChannel, trio.ClosedResourceError, OSError):
                return
            if isinstance(item, CommLost | ShutdownComplete):
                return
            if not isinstance(item, SctpMessage):
                continue
            try:
                message = decode_message_untrusted(item.ppid, item.data)
            except Exception as exc:  # evidence, asserted at the end
                self.undecodable.append(f"PPID {item.ppid} {item.data[:64].hex()}: {exc}")
                continue
            self.inbox.append(message)
            self._notify()
            if isinstance(message, EndpointKeepAlive) and message.pe_id is not None:
                ack = EndpointKeepAliveAck(pool_handle=message.pool_handle, pe_id=message.pe_id)
                await self.send(ack)

    async def send(self, message: Message, ppid: int = PPID.ASAP) -> None:
        await self.send_raw(encode_message(message), ppid)

    async def send_raw(self, data: bytes, ppid: int = PPID.ASAP) -> None:
        await self.assoc.send(data, int(ppid))

    async def expect(self, wanted: Callable[[Message], bool], since: int) -> Message:
        """The first message after ``inbox[since]`` that ``wanted`` accepts."""
        with trio.fail_after(SLOW):
            while True:
                for message in self.inbox[since:]:
                    if wanted(message):
                        return message
                if self.ended:
                    raise AssertionError(f"association ended; received {self.inbox[since:]}")
                await self.news.wait()

    async def ask(self, message: Message, wanted: Callable[[Message], bool]) -> Message:
        since = len(self.inbox)
        await self.send(message)
        return await self.expect(wanted, since)

    async def resolve(self, handle: bytes) -> HandleResolutionResponse:
        answer = await self.ask(
            HandleResolution(pool_handle=handle, items=16),
            lambda m: isinstance(m, HandleResolutionResponse) and m.pool_handle == handle,
        )
        assert isinstance(answer, HandleResolutionResponse)
        return answer

    async def barrier(self, tag: int) -> None:
        """A Deregistration of an unknown PE is always answered: everything sent before it on
        this (ordered) stream has been handled and the registrar still serves us."""
        answer = await self.ask(
            Deregistration(pool_handle=b"Barrier", pe_id=0x7FFF0000 + tag),
            lambda m: isinstance(m, DeregistrationResponse) and m.pe_id == 0x7FFF0000 + tag,
        )
        assert isinstance(answer, DeregistrationResponse) and answer.error is None, answer


def _registration(
    pe_id: int,
    address: str,
    handle: bytes = HOSTILE_POOL,
    policy: Policy | None = None,
    extensions: tuple[UnknownParameter, ...] = (),
) -> Registration:
    """A Registration of ``pe_id`` advertising the hostile host's own address."""
    user = SctpTransport(7000, (ip_address(address),), extensions=extensions)
    policy = policy or PoolMemberSelectionPolicy(PolicyType.ROUND_ROBIN)
    element = PoolElement(pe_id, 0, 30_000, user, policy)
    return Registration(pool_handle=handle, pool_element=element)


def _answers(kind: type[Message], pe_id: int) -> Callable[[Message], bool]:
    return lambda m: isinstance(m, kind) and getattr(m, "pe_id", None) == pe_id


def _mutations(rng: random.Random, address: str, count: int) -> list[bytes]:
    """Seeded hostile bytes: valid messages with bytes flipped, cut, grown, their type or
    length changed, and plain garbage."""
    bases = [
        encode_message(_registration(0x66660000 + i, address)) for i in range(4)
    ] + [
        encode_message(Deregistration(pool_handle=ECHO, pe_id=pe)) for pe in PE_IDS
    ] + [
        encode_message(EndpointUnreachable(pool_handle=ECHO, pe_id=PE_IDS[0])),
        encode_message(EndpointKeepAliveAck(pool_handle=ECHO, pe_id=PE_IDS[1])),
        encode_message(HandleResolution(pool_handle=ECHO)),
    ]  # fmt: skip
    out = []
    for _ in range(count):
        data = bytearray(rng.choice(bases))
        kind = rng.randrange(6)
        if kind == 0:  # flip a few bytes
            for _ in range(rng.randint(1, 4)):
                data[rng.randrange(len(data))] ^= rng.randint(1, 255)
        elif kind == 1:  # cut
            data = data[: rng.randrange(1, len(data))]
        elif kind == 2:  # grow (junk after the message, or inside its length)
            data += rng.randbytes(rng.randint(1, 200))
        elif kind == 3:  # another message type, maybe an unknown one
            data[0] = rng.randrange(256)
        elif kind == 4:  # a lying length field
            data[2:4] = rng.randrange(65536).to_bytes(2, "big")
        else:  # garbage
            data = bytearray(rng.randbytes(rng.randint(1, 600)))
        out.append(bytes(data))
    return out


@dataclass
class Findings:
    resolved: dict[int, PoolElement] = field(default_factory=dict)
    deregistration_causes: list[int | None] = field(default_factory=list)
    hijack_cause: int | None = None
    after_hijack: PoolElement | None = None
    bloated_size: int = 0
    bloated_accepted: bool = False
    bloated_stored_size: int | None = None
    bloated_extensions: int | None = None
    wrong_ppid_aborted: bool = False
    undecodable: list[str] = field(default_factory=list)


async def attack(
    evil: Host, address: str, registrar: str, hsdump_between: Callable[[], None]
) -> Findings:
    found = Findings()
    host = KernelHost([address], enter=evil.entered)
    remote = [(registrar, rsplib.ASAP_PORT)]
    async with trio.open_nursery() as nursery:
        client = Hostile(await host.sctp_connect(remote))
        nursery.start_soon(client.read)

        # (1) PE ids from a Handle Resolution, then Deregistrations for them
        answer = await client.resolve(ECHO)
        found.resolved = {pe.pe_id: pe for pe in answer.pool_elements}
        for pe_id in sorted(found.resolved):
            response = await client.ask(
                Deregistration(pool_handle=ECHO, pe_id=pe_id),
                _answers(DeregistrationResponse, pe_id),
            )
            assert isinstance(response, DeregistrationResponse)
            cause = None if response.error is None else response.error.code
            found.deregistration_causes.append(cause)

        # (2) a Registration reusing an RSPLIB PE's id, from our own address
        victim = found.resolved[PE_IDS[0]]
        hijack = _registration(PE_IDS[0], address, ECHO, policy=victim.policy)
        refused = await client.ask(hijack, _answers(RegistrationResponse, PE_IDS[0]))
        assert isinstance(refused, RegistrationResponse)
        found.hijack_cause = None if refused.error is None else refused.error.code
        again = await client.resolve(ECHO)
        found.after_hijack = next((p for p in again.pool_elements if p.pe_id == PE_IDS[0]), None)
        await trio.to_thread.run_sync(hsdump_between)

        # (3) ~64 KB Registration: unknown skip-bit parameters in the user transport
        junk = tuple(UnknownParameter(0x8123, bytes(1020), 1) for _ in range(63))
        bloated = _registration(BLOATED_ID, address, extensions=junk)
        found.bloated_size = len(encode_message(bloated))
        response = await client.ask(bloated, _answers(RegistrationResponse, BLOATED_ID))
        assert isinstance(response, RegistrationResponse)
        found.bloated_accepted = not response.reject
        if found.bloated_accepted:
            stored = await client.resolve(HOSTILE_POOL)
            pe = next(pe for pe in stored.pool_elements if pe.pe_id == BLOATED_ID)
            found.bloated_stored_size = len(pe.encode())
            assert isinstance(pe.user_transport, SctpTransport)
            found.bloated_extensions = len(pe.user_transport.extensions)
            gone = await client.ask(
                Deregistration(pool_handle=HOSTILE_POOL, pe_id=BLOATED_ID),
                _answers(DeregistrationResponse, BLOATED_ID),
            )
            assert isinstance(gone, DeregistrationResponse) and gone.error is None, gone
        await client.barrier(1)

        # (4) mutated and garbage ASAP messages, then unknown PPIDs: the association stays
        for data in _mutations(random.Random(SEED), address, MUTATED):
            await client.send_raw(data)
        await client.barrier(2)
        for ppid in (0, 1, 51, 0xFFFFFFFF):
            await client.send(HandleResolution(pool_handle=ECHO), ppid=ppid)
        await client.barrier(3)
        # ENRP's PPID on the ASAP port: RSPLIB's rule, the registrar ABORTs the association
        await client.send(HandleResolution(pool_handle=ECHO), ppid=PPID.ENRP)
        with trio.fail_after(SLOW):
            while not client.ended:
                await client.news.wait()
        found.wrong_ppid_aborted = True
        found.undecodable += client.undecodable
        await client.assoc.aclose()

        # a new association is served as before
        fresh = Hostile(await host.sctp_connect(remote))
        nursery.start_soon(fresh.read)
        await fresh.barrier(4)
        last = await fresh.resolve(ECHO)
        assert {pe.pe_id for pe in last.pool_elements} == set(PE_IDS)
        found.undecodable += fresh.undecodable
        await fresh.assoc.aclose()
        nursery.cancel_scope.cancel()
    return found


# ------------------------------------------------------------------ the test


def _malformed_by_source(path: Path) -> dict[str, int]:
    done = subprocess.run(
        ["tshark", "-r", str(path), "-Y", "_ws.malformed", "-T", "fields", "-e", "ip.src"],
        capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    counts: dict[str, int] = {}
    for line in done.stdout.split():
        counts[line] = counts.get(line, 0) + 1
    return counts


def test_hostile_association_while_rsplib_works(topology: Topology, artifacts: Path) -> None:
    pr, cl, evil = topology.add_host("pr"), topology.add_host("cl"), topology.add_host("evil")
    l_cl, l_evil = topology.link(pr, cl), topology.link(pr, evil)
    pr.route_multicast(l_cl.a)
    cl.route_multicast(l_cl.b)
    capture = Capture(pr, artifacts / "pr.pcapng").start()
    registrar = rserpool(pr, artifacts, "registrar", "registrar",
                         f"--asap={l_cl.a.address}:3863,{l_evil.a.address}",
                         f"--enrp={l_cl.a.address}:9901,{l_evil.a.address}",
                         "--identifier=0x201")  # fmt: skip
    registrar.wait_for(r"Registrar \$00000201 running", timeout=SLOW)
    at = f"{l_cl.a.address}:{rsplib.ASAP_PORT}"
    servers = [
        rsplib.server(cl, artifacts, at, identifier=pe_id, name=f"rspserver-{pe_id:x}")
        for pe_id in PE_IDS
    ]
    for server in servers:
        server.wait_for(rsplib.PE_REGISTERED, timeout=SLOW)
    terminal = rsplib.terminal(cl, artifacts, at)
    terminal.wait_for("Pool Handle = EchoPool", timeout=SLOW)
    echoes = Echoes(terminal)
    pinger = threading.Thread(target=echoes.run, name="echoes")
    pinger.start()

    def rsplib_hsdump() -> None:
        dump = rsplib.hsdump(cl, artifacts, f"{l_cl.a.address}:{rsplib.ENRP_PORT}")
        for pe_id in PE_IDS:
            dump.wait_for(rf"(?i)\$0*{pe_id:x}\b|0x0*{pe_id:x}\b", timeout=SLOW)
        dump.stop()

    try:
        found = trio.run(attack, evil, l_evil.b.address, l_evil.a.address, rsplib_hsdump)
        # the pool user went on during all of it; a few more lines at least, then stop
        wanted = echoes.echoed + 3
        while echoes.echoed < wanted and echoes.error is None and pinger.is_alive():
            pinger.join(timeout=0.1)
    finally:
        echoes.done.set()
        pinger.join(timeout=90)

    # (1) foreign deregistrations refused with 0x000a
    assert set(found.resolved) == set(PE_IDS)
    assert found.deregistration_causes == [SECURITY] * len(PE_IDS)
    # (2) a foreign registration of an RSPLIB PE's id refused, its transport unchanged
    assert found.hijack_cause == SECURITY
    assert found.after_hijack is not None
    assert found.after_hijack.user_transport == found.resolved[PE_IDS[0]].user_transport
    # (3) the bloated Registration: stored small, or refused
    assert found.bloated_size > 64_000
    if found.bloated_accepted:
        assert found.bloated_stored_size is not None
        assert found.bloated_stored_size <= MAX_STORED_PE_SIZE
        assert found.bloated_extensions == 0
    # (4) the wrong PPIDs: unknown ones ignored (barrier 3 passed), ENRP's cost the association
    assert found.wrong_ppid_aborted
    assert not found.undecodable, found.undecodable[:3]

    # the pool user lost nothing
    assert echoes.error is None, echoes.error
    assert echoes.sent >= 5 and echoes.echoed == echoes.sent, (echoes.sent, echoes.echoed)
    terminal.stop()

    # the registrar is alive and its handlespace is the three RSPLIB PEs, as registered
    assert registrar.running
    mine = rserpool(cl, artifacts, "hsdump", "hsdump", "--json",
                    f"{l_cl.a.address}:{rsplib.ENRP_PORT}")  # fmt: skip
    assert mine.popen.wait(timeout=SLOW) == 0, mine.output()[-2000:]
    document = json.loads(mine.output().split("\n", 1)[1])
    pools = {pool["pool_handle"]: pool for pool in document["pools"]}
    assert set(pools) == {"EchoPool"}, sorted(pools)
    elements = pools["EchoPool"]["pool_elements"]
    assert {e["pe_id"] for e in elements} == {f"${pe_id:08x}" for pe_id in PE_IDS}
    for element in elements:
        assert element["home_registrar_id"] == "$00000201"
        assert element["user_transport"]["addresses"] == [l_cl.b.address], element

    for server in servers:
        server.stop()
    assert registrar.stop() == 0
    log = registrar.output()
    assert "Traceback" not in log

    # the capture: what our registrar sent is well-formed for tshark and rserpool.capture
    capture.process.stop()
    sources = " || ".join(f"ip.src == {a}" for a in pr.addresses())
    ours = artifacts / "pr-sent.pcapng"
    subprocess.run(["tshark", "-r", str(capture.path), "-Y", sources, "-w", str(ours)],
                   capture_output=True, check=True, timeout=300)  # fmt: skip
    decoded = decode(ours)
    cross_check(ours, decoded)
    assert decoded.malformed == 0
    by_source = _malformed_by_source(capture.path)
    assert not set(by_source) & set(pr.addresses()), by_source
    seen = {(m.protocol, m.type) for m in decoded.messages}
    # ASAP types (RFC 5352): Registration Response 3, Deregistration Response 4, Handle
    # Resolution Response 6, Endpoint Keep Alive 7, Error 14
    assert {("asap", t) for t in (3, 4, 6, 7, 14)} <= seen, sorted(seen)
    (artifacts / "summary.txt").write_text(
        f"echoes {echoes.echoed}/{echoes.sent}; bloated {found.bloated_size} bytes, accepted "
        f"{found.bloated_accepted}, stored {found.bloated_stored_size}; malformed by source "
        f"{by_source}\n"
    )
