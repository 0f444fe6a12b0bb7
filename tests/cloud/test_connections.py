"""Connections are authenticated once per credential and reused, one thread at a time, never across credentials,
and never once their token is refused or near its end: against the simulated federation, real openstacksdk."""

from __future__ import annotations

import threading
from typing import Any

import keystoneauth1.exceptions.http
import pytest

from execplanner.cloud.connection import Connections, OidcToken, SiteProject
from execplanner.simcloud import SimFederation

SITE, VO = "IN2P3-IRES", "vo.access.egi.eu"


def _target(fed: SimFederation) -> SiteProject:
    site = fed.site(SITE)
    return SiteProject(SITE, site.auth_url, site.vos[VO])


def _tokens_issued(fed: SimFederation) -> int:
    return len(fed.federation.sites[SITE].tokens)


def _in_thread(work: Any) -> Any:
    """Run `work` in a thread of its own (as a launch worker does); its result, or what it raised, raised here."""
    out: list[Any] = []

    def run() -> None:
        try:
            out.append(work())
        except Exception as exc:  # noqa: BLE001 — carried to the test's thread
            out.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    if isinstance(out[0], Exception):
        raise out[0]
    return out[0]


def _use(connections: Connections, target: SiteProject, token: str, authenticate: Any = None) -> Any:
    """One piece of work: lease, call the cloud, give back."""
    conn = connections.lease(target, OidcToken(token), authenticate=authenticate)
    try:
        list(conn.compute.servers())
    finally:
        connections.give_back()
    return conn


def test_a_second_launch_with_the_same_credential_does_not_authenticate_again(simcloud_fresh: SimFederation) -> None:
    target, connections = _target(simcloud_fresh), Connections()
    first = _in_thread(lambda: _use(connections, target, simcloud_fresh.demo_token))
    issued = _tokens_issued(simcloud_fresh)
    second = _in_thread(lambda: _use(connections, target, simcloud_fresh.demo_token))
    assert second is first
    assert _tokens_issued(simcloud_fresh) == issued  # no new Keystone token


def test_a_connection_is_never_shared_while_leased_nor_across_credentials(simcloud_fresh: SimFederation) -> None:
    target, connections = _target(simcloud_fresh), Connections()
    simcloud_fresh.add_token("alice-token", ["urn:mace:egi.eu:group:vo.access.egi.eu:role=vm_operator#aai.egi.eu"])
    held = connections.lease(target, OidcToken(simcloud_fresh.demo_token))  # this thread keeps it
    assert connections.lease(target, OidcToken(simcloud_fresh.demo_token)) is held  # its own lease again
    other = _in_thread(lambda: _use(connections, target, simcloud_fresh.demo_token))
    assert other is not held  # another thread meanwhile gets its own
    alice = _in_thread(lambda: _use(connections, target, "alice-token"))
    assert alice is not other and alice is not held  # another credential: never someone else's connection
    connections.give_back()


def test_a_refused_credential_leaves_no_connection_behind(simcloud_fresh: SimFederation) -> None:
    target, connections = _target(simcloud_fresh), Connections()
    with pytest.raises(keystoneauth1.exceptions.http.Unauthorized):
        _in_thread(lambda: _use(connections, target, "nobody-knows-this-token"))
    assert connections.idle() == 0


def test_a_connection_whose_token_ends_soon_is_not_reused(simcloud_fresh: SimFederation) -> None:
    target = _target(simcloud_fresh)
    connections = Connections(margin=10 * 365 * 86400.0)  # every token "ends soon"
    first = _in_thread(lambda: _use(connections, target, simcloud_fresh.demo_token))
    assert connections.idle() == 0
    assert _in_thread(lambda: _use(connections, target, simcloud_fresh.demo_token)) is not first


def test_idle_connections_are_bounded_in_all_the_oldest_going_first(simcloud_fresh: SimFederation) -> None:
    target, connections = _target(simcloud_fresh), Connections(most=1)
    simcloud_fresh.add_token("alice-token", ["urn:mace:egi.eu:group:vo.access.egi.eu:role=vm_operator#aai.egi.eu"])
    _in_thread(lambda: _use(connections, target, simcloud_fresh.demo_token))
    alice = _in_thread(lambda: _use(connections, target, "alice-token"))
    assert connections.idle() == 1
    assert _in_thread(lambda: _use(connections, target, "alice-token")) is alice  # the newest stayed


def test_a_burst_of_new_connections_for_one_credential_authenticates_once(simcloud_fresh: SimFederation) -> None:
    target, connections = _target(simcloud_fresh), Connections()
    all_leased = threading.Barrier(5)

    def launch() -> None:
        connections.lease(target, OidcToken(simcloud_fresh.demo_token), authenticate=_get_token)
        all_leased.wait(timeout=30)  # five connections at once: none is idle for another to reuse
        connections.give_back()

    threads = [threading.Thread(target=launch) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert connections.idle() == 5  # five connections, one Keystone token
    assert simcloud_fresh.federation.calls["identity.auth.tokens"] == 1


def test_a_new_connection_uses_what_an_earlier_one_discovered(simcloud_fresh: SimFederation) -> None:
    target, connections = _target(simcloud_fresh), Connections()
    held = connections.lease(target, OidcToken(simcloud_fresh.demo_token), authenticate=_get_token)
    list(held.compute.servers())  # this thread keeps it: the next is a new connection
    other = _in_thread(lambda: _use(connections, target, simcloud_fresh.demo_token, authenticate=_get_token))
    connections.give_back()
    assert other is not held
    calls = simcloud_fresh.federation.calls
    assert (calls["compute.servers.list"], calls["compute.version"], calls["identity.auth.tokens"]) == (2, 1, 1)


def test_a_failed_authentication_is_the_callers_and_the_next_one_tries_its_own(simcloud_fresh: SimFederation) -> None:
    target, connections = _target(simcloud_fresh), Connections()
    simcloud_fresh.faults.inject(SITE, "identity.auth.*", "error", status=503, times=1)
    with pytest.raises(keystoneauth1.exceptions.http.ServiceUnavailable):
        _in_thread(lambda: connections.lease(target, OidcToken(simcloud_fresh.demo_token), authenticate=_get_token))
    conn = _in_thread(lambda: _use(connections, target, simcloud_fresh.demo_token, authenticate=_get_token))
    assert conn.session.auth.auth_ref is not None


def _get_token(conn: Any) -> None:
    conn.session.get_token()


def test_with_no_idle_time_every_connection_authenticates(simcloud_fresh: SimFederation) -> None:
    target, connections = _target(simcloud_fresh), Connections(idle_for=0.0)
    for _ in range(2):
        _in_thread(lambda: _use(connections, target, simcloud_fresh.demo_token, authenticate=_get_token))
    assert simcloud_fresh.federation.calls["identity.auth.tokens"] == 2


def _open_sockets(conn: Any) -> int:
    """Connections in the pools of the openstacksdk connection's HTTP session (0 once it is closed)."""
    containers = [adapter.poolmanager.pools for adapter in conn.session.session.adapters.values()]
    # urllib3's RecentlyUsedContainer refuses iteration; keys() is its way
    pools = [container[key] for container in containers for key in container.keys()]  # noqa: SIM118
    held = [pool.pool.queue for pool in pools if pool.pool]
    return sum(1 for queue in held for http in queue if http is not None and http.sock is not None)


def test_a_connection_no_longer_kept_is_closed_at_once(simcloud_fresh: SimFederation) -> None:
    """Connections dropped (idle too long, over the bounds, token ending) close their sockets when dropped, not
    when the garbage collector gets to openstacksdk's reference cycles."""
    target = _target(simcloud_fresh)
    kept = Connections()
    reused = _in_thread(lambda: _use(kept, target, simcloud_fresh.demo_token))
    assert _open_sockets(reused) > 0  # kept idle with its sockets (Keystone's, Nova's), for the next launch

    stale = Connections(idle_for=0.0)  # idle for no time at all: dropped as soon as it is given back
    dropped = _in_thread(lambda: _use(stale, target, simcloud_fresh.demo_token))
    assert stale.idle() == 0 and _open_sockets(dropped) == 0

    ending = Connections(margin=10 * 365 * 86400.0)  # every token "ends soon": never kept
    dropped = _in_thread(lambda: _use(ending, target, simcloud_fresh.demo_token))
    assert _open_sockets(dropped) == 0

    bounded = Connections(keep=1)
    all_leased = threading.Barrier(2)
    leased: list[Any] = []

    def launch() -> None:
        leased.append(_use_when(bounded, target, simcloud_fresh.demo_token, all_leased))

    threads = [threading.Thread(target=launch) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert bounded.idle() == 1
    assert sorted(_open_sockets(conn) > 0 for conn in leased) == [False, True]  # one kept, one over `keep`: closed


def _use_when(connections: Connections, target: SiteProject, token: str, barrier: threading.Barrier) -> Any:
    conn = connections.lease(target, OidcToken(token))
    try:
        list(conn.compute.servers())
        barrier.wait(timeout=30)  # both leased at once: neither is idle for the other to reuse
    finally:
        connections.give_back()
    return conn
