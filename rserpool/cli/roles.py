"""What ``rserpool server``, ``rserpool terminal`` and ``rserpool pingpong`` share: the option
types and common options, RSPLIB's spellings, and the progress and ``--timeout`` machinery.

    rserpool server --echo --pool-handle EchoPool --registrar 198.51.100.1:3863 --identifier 0x2001
    rserpool terminal --pool-handle EchoPool --registrar 198.51.100.1:3863
    rserpool pingpong --registrar 198.51.100.1:3863 --count 20 --interval 250

The server is in :mod:`rserpool.cli.server`, the two pool users in :mod:`rserpool.cli.users`.
RSPLIB's spellings work as well (``rspserver -echo -poolhandle=EchoPool -registrar=...``,
``-identifier=``, ``-policy=``, ``-local=``, ``-rereginterval=``, ``-runtime=``; pingpongclient's
``-interval=``; ``-cspserver=``, ``-cspinterval=`` and ``-cspidentifier=`` for status reports,
:mod:`rserpool.cli.csp`; ``-log*`` options are accepted and ignored with a note). Every option
is checked before anything starts: a bad value is one line naming the option as typed, exit
status 2.

While a PE or PU looks for a registrar it says what it tries and why that failed; with
``--timeout S`` it gives up after S seconds (exit status 1) with one line saying what it tried.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable

import trio

from rserpool.apps.service_handlers import SERVICES
from rserpool.cli import csp, transport
from rserpool.cli.common import CommandError, add_logging_options, number, say
from rserpool.cli.options import (
    parse_group,
    parse_ip,
    parse_remote,
    split_host_port,
    translate_rsplib,
    unspecified_alone,
)
from rserpool.policies.definitions import policy_by_name
from rserpool.presentation.explain import HuntProgress, explain
from rserpool.proto.client.pool_user import NoPoolElement
from rserpool.proto.common import Event, IPAddress, TransportAddress
from rserpool.transport import ASAP_ANNOUNCE_GROUP, Address, Host
from rserpool.wire import PolicyType, PoolMemberSelectionPolicy
from rserpool.wire.constants import ASAP_PORT

Translator = Callable[[list[str]], tuple[list[str], list[str]]]

#: RSPLIB's MAX_POOLHANDLESIZE: its registrar refuses a longer pool handle (INVALID_VALUE).
MAX_POOL_HANDLE = 32
#: rspserver's smallest re-registration interval (ms).
MIN_REREG_INTERVAL = 10
#: The largest interval whose registration life (3 x the interval, ms) fits the u32 on the wire.
MAX_REREG_INTERVAL = 0xFFFFFFFF // 3
#: The largest PingPong payload: a Pong (20 bytes of header) must fit its u16 length.
MAX_PING_SIZE = 0xFFFF - 20

COMMON = {
    "registrar": "--registrar",
    "asapannounce": "--asap-announce",
    "local": "--local",
    **csp.RSPLIB_CLIENT_NAMES,
}
RSPLIB_NAMES = {
    "server": {
        **COMMON,
        "poolhandle": "--pool-handle",
        "identifier": "--identifier",
        "policy": "--policy",
        "rereginterval": "--rereg-interval",
        "runtime": "--runtime",
        "pppfailureafter": "--ppp-failure-after",
    },
    "terminal": {**COMMON, "poolhandle": "--pool-handle"},
    "pingpong": {
        **COMMON,
        "poolhandle": "--pool-handle",
        "interval": "--interval",
        "count": "--count",  # ours: pingpongclient pings until interrupted
    },
}
RSPLIB_FLAGS = {"server": {name: f"--{name}" for name in SERVICES}}
#: Options a pool user accepts from RSPLIB scripts but has no use for.
PU_IGNORED = ("-identifier=",)
FRACTION_FIELDS = {"load", "load_degradation", "load_dpf", "weight_dpf"}
#: The fields ``-policy=Name:a:b`` sets, in order (RSPLIB rspserver; fractions as 0.0-1.0).
POLICY_ARGUMENTS: dict[PolicyType, tuple[str, ...]] = {
    PolicyType.WEIGHTED_ROUND_ROBIN: ("weight",),
    PolicyType.WEIGHTED_RANDOM: ("weight",),
    PolicyType.PRIORITY: ("priority",),
    PolicyType.LEAST_USED_DEGRADATION: ("load_degradation",),
    PolicyType.PRIORITY_LEAST_USED: ("load_degradation",),
    PolicyType.PRIORITY_LEAST_USED_DEGRADATION: ("load_degradation",),
    PolicyType.RANDOMIZED_PRIORITY_LEAST_USED: ("load_degradation",),
    PolicyType.RANDOMIZED_LEAST_USED_DEGRADATION: ("load_degradation",),
    PolicyType.RANDOMIZED_PRIORITY_LEAST_USED_DEGRADATION: ("load_degradation",),
    PolicyType.WEIGHTED_RANDOM_DPF: ("weight", "weight_dpf"),
    PolicyType.LEAST_USED_DPF: ("load_dpf",),
    PolicyType.LEAST_USED_DEGRADATION_DPF: ("load_degradation", "load_dpf"),
}


# ------------------------------------------------------------------------ option types


def parse_policy(text: str) -> PoolMemberSelectionPolicy:
    """RSPLIB's ``-policy=`` spelling: ``RoundRobin``, ``WeightedRoundRobin:5``,
    ``Priority:3``, ``LeastUsedDegradation:0.01``, ``WeightedRandomDPF:10:0.5``, ..."""
    name, *args = text.split(":")
    try:
        policy_type = policy_by_name(name).policy_type
    except KeyError:
        raise argparse.ArgumentTypeError(f"unknown policy {name!r}") from None
    wanted = POLICY_ARGUMENTS.get(policy_type, ())
    if len(args) > len(wanted):
        raise argparse.ArgumentTypeError(f"{name} takes {len(wanted)} argument(s)")
    values: dict[str, int] = {}
    for field_name, arg in zip(wanted, args, strict=False):
        try:
            value = float(arg)
        except ValueError:
            raise argparse.ArgumentTypeError(f"bad {field_name} {arg!r} in {text!r}") from None
        if field_name in FRACTION_FIELDS:
            if not 0 <= value <= 1:  # NaN fails too
                raise argparse.ArgumentTypeError(f"{field_name} must be 0.0-1.0 in {text!r}")
            values[field_name] = round(value * 0xFFFFFFFF)
        elif not 0 <= value <= 0xFFFFFFFF or value != int(value):
            raise argparse.ArgumentTypeError(f"{field_name} must be a u32 in {text!r}")
        else:
            values[field_name] = int(value)
    if policy_type is PolicyType.WEIGHTED_ROUND_ROBIN and "weight" not in values:
        values["weight"] = 1
    return PoolMemberSelectionPolicy(policy_type, **values)


def parse_registrar(text: str) -> TransportAddress:
    """A registrar's ASAP endpoint: RSPLIB's ``ADDR:PORT{,ADDR}`` (multi-homed); without a
    port, the well-known ASAP port 3863 (RSPLIB insists on the port)."""
    return TransportAddress(*parse_remote(text, ASAP_PORT))


def parse_local(text: str) -> tuple[list[str], int]:
    """Local addresses and port: ``ADDR[,ADDR][:PORT]`` or RSPLIB's ``ADDR:PORT{,ADDR}``;
    ``0.0.0.0`` or ``::`` alone means every address of this host."""
    port = 0
    addresses: list[IPAddress] = []
    for part in text.split(","):
        host, p = split_host_port(part, None, text)
        if p is not None:
            port = p
        address = parse_ip(host, text)
        if address not in addresses:
            addresses.append(address)
    if unspecified_alone(text, addresses):
        return [], port
    return [str(a) for a in addresses], port


def parse_pool_handle(text: str) -> str:
    """A pool handle: 1 to 32 bytes in UTF-8 (RSPLIB's MAX_POOLHANDLESIZE)."""
    size = len(text.encode("utf-8", "surrogateescape"))
    if size == 0:
        raise argparse.ArgumentTypeError("a pool handle cannot be empty (1 to 32 bytes)")
    if size > MAX_POOL_HANDLE:
        raise argparse.ArgumentTypeError(
            f"{text!r} is {size} bytes long; a pool handle has at most {MAX_POOL_HANDLE} bytes "
            "(UTF-8), RSPLIB's registrar refuses longer ones"
        )
    return text


def parse_announce(text: str) -> Address | None:
    """``auto`` (239.0.0.50:3863), ``off`` (None) or a multicast ``ADDR[:PORT]``."""
    return parse_group(text, ASAP_ANNOUNCE_GROUP)


parse_policy.__name__ = "policy"
parse_registrar.__name__ = "registrar endpoint"
parse_local.__name__ = "local endpoint"
parse_pool_handle.__name__ = "pool handle"
parse_announce.__name__ = "announce group"


# ------------------------------------------------------------------------ RSPLIB spellings


def translate(command: str) -> Translator:
    def run(argv: list[str]) -> tuple[list[str], list[str]]:
        notes: list[str] = []
        if command != "server":
            kept = []
            for arg in argv:
                if arg.lower().startswith(PU_IGNORED):
                    notes.append(
                        f"note: RSPLIB option {arg} has no effect here (ignored): a pool user "
                        "has no identifier of its own"
                    )
                else:
                    kept.append(arg)
            argv = kept
        rest, more = translate_rsplib(argv, RSPLIB_NAMES[command], RSPLIB_FLAGS.get(command, {}))
        return rest, notes + more

    return run


def translators() -> dict[str, Translator]:
    return {name: translate(name) for name in RSPLIB_NAMES}


# ------------------------------------------------------------------------ common options


def add_common_options(p: argparse.ArgumentParser, *, pool_element: bool) -> None:
    p.add_argument("--registrar", action="append", default=[], type=parse_registrar,
                   metavar="ADDR[:PORT][,ADDR]",
                   help="a registrar's ASAP endpoint, multi-homed as ADDR:PORT,ADDR2 (port "
                   "3863 if none is given); repeatable. Default: registrars are found through "
                   "Server Announces")  # fmt: skip
    p.add_argument("--asap-announce", default="auto", type=parse_announce,
                   metavar="auto|off|ADDR[:PORT]",
                   help="where Server Announces are heard (default auto = 239.0.0.50:3863; "
                   "off: only --registrar)")  # fmt: skip
    if pool_element:
        p.add_argument("--local", type=parse_local, default=([], 0), metavar="ADDR[,ADDR][:PORT]",
                       help="local addresses to bind and register, and the port of the user "
                       "transport (default: every address, any port)")  # fmt: skip
    else:
        p.add_argument("--local", type=parse_local, default=([], 0), metavar="ADDR[,ADDR]",
                       help="local addresses to bind (default: every address)")  # fmt: skip
    goal = "the first registration" if pool_element else "a session to a pool element"
    p.add_argument("--timeout", type=number(float, 0), default=0.0, metavar="S",
                   help=f"give up (exit status 1) when {goal} is not reached within S seconds "
                   "(default 0: wait for ever, telling every attempt)")  # fmt: skip
    csp.add_csp_options(p, identifier=True)
    transport.add_transport_options(p)
    add_logging_options(p)


def make_host(args: argparse.Namespace, *, role: transport.Role) -> Host:
    """The host ``--transport`` names, bound to ``--local``'s addresses; told on one line.

    SCTP over UDP with no ``--local``: a PE the address this machine reaches the first
    ``--registrar`` from, a PU every address of the machine; without a registrar elsewhere
    than on loopback, this machine's loopback (see
    :mod:`rserpool.cli.transport`): the registrar is looked for at 127.0.0.1:3863, announces
    are not listened for, and a pool element registers its loopback address."""
    addresses = [str(a) for a in args.local[0]]
    toward = [str(r.addresses[0]) for r in args.registrar if r.addresses]
    host, line = transport.make_host(args, addresses, role=role, toward=toward)
    say(line)
    args.loopback = transport.on_loopback(args, addresses, toward)
    if args.loopback:
        if not args.registrar:
            args.registrar = [parse_registrar(transport.LOOPBACK_REGISTRAR)]
        args.asap_announce = None
    return host


# ------------------------------------------------------------------------ progress


class Narrator:
    """Tells a component's events, one line each (:func:`~rserpool.presentation.explain.explain`),
    and keeps what the server hunt did (:class:`HuntProgress`) for ``--timeout``.

    A line repeated by a retry loop (no PE in the pool yet) is told once, until another line
    comes in between.
    """

    REPEATING = (NoPoolElement,)

    def __init__(self) -> None:
        self.progress = HuntProgress()
        self._last_repeat: str | None = None

    def tell(self, event: Event) -> None:
        self.progress.observe(event)
        line = explain(event)
        if line is None:
            return
        if isinstance(event, self.REPEATING):
            if line == self._last_repeat:
                return
            self._last_repeat = line
        else:
            self._last_repeat = None
        say(line)

    async def follow(
        self, events: trio.MemoryReceiveChannel[Event], skip: tuple[type, ...] = ()
    ) -> None:
        async for event in events:
            if isinstance(event, skip):
                self.progress.observe(event)
            else:
                self.tell(event)

    def tell_rest(self, events: trio.MemoryReceiveChannel[Event]) -> None:
        """What is still in the channel (e.g. the Deregistration while leaving)."""
        while True:
            try:
                event = events.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                return
            self.tell(event)


async def give_up_after(
    seconds: float, reached: Callable[[], Awaitable[object]], message: Callable[[], str]
) -> None:
    """Raise :class:`CommandError` with ``message()`` unless ``reached()`` returns within
    ``seconds`` (0: wait for ever)."""
    if seconds <= 0:
        return
    with trio.move_on_after(seconds):
        await reached()
        return
    raise CommandError(message())


def register_subcommands(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """The hook for :mod:`rserpool.cli`."""
    from rserpool.cli.server import add_parser
    from rserpool.cli.users import add_parsers as add_user_parsers

    add_parser(subparsers)
    add_user_parsers(subparsers)
