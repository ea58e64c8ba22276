"""PE cores, a PU core and our RegistrarCore wired together (rserpool.testing.client)."""

from __future__ import annotations

from rserpool.apps.services import PINGPONG_PPID
from rserpool.proto.client.hunt import (
    HomeChangeReason,
    HomeRegistrarChanged,
    RegistrarHuntConfig,
)
from rserpool.proto.client.pool_element import Registered
from rserpool.proto.client.pool_user import PoolUserConfig
from rserpool.proto.client.session import FailoverComplete, FailoverNecessary, SessionConnected
from rserpool.testing.client import Net

from .helpers import ta

PR1, PR2, PR3 = 0x11111111, 0x22222222, 0x33333333


def homes(net: Net, registrar: str) -> dict[int, int]:
    """PE id -> home registrar id, as the registrar's handlespace has it."""
    return {pe.pe_id: pe.home_registrar_id for pe in net.registrars[registrar].handlespace}


def test_failover_loses_and_duplicates_nothing() -> None:
    net = Net(seed=3)
    net.registrar("PR1", "10.0.0.1", PR1)
    static = RegistrarHuntConfig(static_registrars=(ta("10.0.0.1", 3863),))
    pe_ids = {net.pool_element(f"PE{i}", f"10.1.0.{i}", static) for i in (1, 2, 3)}
    net.run(1000)
    assert set(homes(net, "PR1")) == pe_ids
    net.pool_user(static, PoolUserConfig())
    net.start_pinging()
    net.run(2000)
    (connected,) = net.of("PU", SessionConnected)
    first = connected.pe_id
    assert len(net.client.answered) >= 19 and net.client.clean
    victim = next(name for name, core in net.pes.items() if first in core.pool_elements())
    assert net.pu is not None and net.session is not None
    net.pu.send(net.session, net.client.ping(), PINGPONG_PPID)
    net.flush("PU")  # that Ping is in flight when the PE dies: lost with the association
    net.crash(victim)  # kill -9 mid-session
    net.run(3000, pinging_until=net.now + 2000)
    net.run(2000)  # let the last Pongs arrive
    (necessary,) = net.of("PU", FailoverNecessary)
    (complete,) = net.of("PU", FailoverComplete)
    assert necessary.pe_id == first and complete.pe_id != first and complete.cookie_echoed
    client = net.client
    assert client.clean, (client.gaps, client.duplicates, client.unexpected)
    assert client.outstanding == {}
    assert client.answered == set(range(1, client.next_message_no))
    assert client.last_reply_no == client.next_message_no - 1  # replies numbered 1..n


def test_registrar_loss_rehomes_via_announces() -> None:
    net = Net(seed=5)
    net.registrar("PR1", "10.0.0.1", PR1)
    net.registrar("PR2", "10.0.0.2", PR2)
    hunt = RegistrarHuntConfig()  # announces only
    pe_ids = {net.pool_element(f"PE{i}", f"10.1.0.{i}", hunt) for i in (1, 2)}
    net.run(8000)  # startup (5 s) then announces
    home_of = set()
    for name in ("PE1", "PE2"):
        home = net.pes[name].home
        assert home is not None
        home_of.add(home.server_id)
    assert home_of <= {PR1, PR2}
    victim = "PR1" if PR1 in home_of else "PR2"
    survivor, survivor_id = ("PR2", PR2) if victim == "PR1" else ("PR1", PR1)
    net.crash(victim)
    net.run(8000)
    assert homes(net, survivor) == dict.fromkeys(pe_ids, survivor_id)
    for name in ("PE1", "PE2"):
        core = net.pes[name]
        assert core.home is not None and core.home.server_id == survivor_id
        assert all(core.is_registered(pe_id) for pe_id in core.pool_elements())
    assert net.of("PE1", Registered)[-1].home.server_id == survivor_id


def test_takeover_h_flag_is_followed() -> None:
    net = Net(seed=7)
    net.announces_reach_users = False  # the PE cannot re-home by itself: only PR1 is known
    for name, address, sid in (
        ("PR1", "10.0.0.1", PR1),
        ("PR2", "10.0.0.2", PR2),
        ("PR3", "10.0.0.3", PR3),
    ):
        net.registrar(name, address, sid)
    net.run(6000)
    only_pr1 = RegistrarHuntConfig(static_registrars=(ta("10.0.0.1", 3863),))
    pe_id = net.pool_element("PE1", "10.1.0.1", only_pr1)
    net.run(3000)
    assert homes(net, "PR2") == {pe_id: PR1}
    net.crash("PR1")
    net.run(20_000)
    (takeover,) = [
        e for e in net.of("PE1", HomeRegistrarChanged) if e.reason is HomeChangeReason.TAKEOVER
    ]
    new_home = takeover.home.server_id
    assert new_home in (PR2, PR3)
    core = net.pes["PE1"]
    assert core.home is not None and core.home.server_id == new_home and not core.hunting
    survivor = "PR2" if new_home == PR2 else "PR3"
    assert homes(net, survivor) == {pe_id: new_home}
    # and the periodic re-registration now goes to the new home
    net.run(31_000)
    assert net.of("PE1", Registered)[-1].home.server_id == new_home
    assert homes(net, survivor) == {pe_id: new_home}
