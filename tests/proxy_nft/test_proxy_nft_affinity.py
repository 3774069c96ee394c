"""ClientIP session affinity: the same invariants for the iptables and the nftables data plane.

Rule shapes come from upstream kubernetes/kubernetes `writeServiceToEndpointRules` in
pkg/proxy/iptables/proxier.go (`recent --rcheck --seconds`, then `recent --set` in the
endpoint chain) and pkg/proxy/nftables/proxier.go (`ip saddr @affinity-… goto endpoint-…`,
then `update @affinity-… { ip saddr }`). The behaviour checked is that of the e2e tests in
test/e2e/network/service.go ("should have session affinity work …" and "should have session
affinity timeout work …"): a client stays on one endpoint while its record is younger than
timeoutSeconds, and is balanced again once it is older.
"""

from __future__ import annotations

import pytest
from nft_helpers import fake_config, manifests

from svclab.proxy import modes
from svclab.proxy.nftables.trace import NFTablesTracer
from svclab.proxy.packet import Packet, Tracer
from svclab.proxy.rules.nftables import NftError, load
from svclab.proxy.sampler import Sampler

CONFIG = fake_config()
TIMEOUT = 30.0
"""timeoutSeconds of the sticky Service in tests/data/proxy_nft/affinity.yaml."""
STICKY = Packet("10.9.0.7", "172.30.0.60", 80)
PLAIN = Packet("10.9.0.7", "172.30.0.61", 80)
ENDPOINTS = {"10.1.0.1:8080", "10.1.0.2:8080", "10.1.0.3:8080"}

AFFINITY_MODES = ("iptables", "nftables")
"""The modes whose rules keep ClientIP affinity (IPVS persistence is not traced)."""


@pytest.fixture(scope="module", params=AFFINITY_MODES)
def plane(request: pytest.FixtureRequest) -> tuple[str, str]:
    """(mode, the rules kube-proxy in that mode writes for affinity.yaml)."""
    return request.param, modes.render(request.param, manifests("affinity.yaml"), CONFIG)


def tracer(plane: tuple[str, str]) -> Tracer:
    mode, text = plane
    return modes.get(mode).tracer(text, CONFIG)


def sampler(plane: tuple[str, str], seed: int) -> Sampler:
    mode, text = plane
    return Sampler.for_mode(mode, text, CONFIG, seed=seed)


def test_first_packet_splits_uniformly_and_records_its_endpoint(plane):
    """No record yet: each endpoint 1/3, and each branch refreshes its own endpoint's record."""
    traced = tracer(plane)
    result = traced.trace(STICKY, None, frozenset())
    assert result.destinations == pytest.approx(dict.fromkeys(ENDPOINTS, 1 / 3))
    records = [outcome.affinity for outcome in result.outcomes]
    assert all(len(names) == 1 for names in records), records
    assert len({names[0] for names in records}) == 3
    assert {traced.affinity_timeouts[names[0]] for names in records} == {TIMEOUT}


def test_a_service_without_affinity_records_nothing(plane):
    result = tracer(plane).trace(PLAIN, None, frozenset())
    assert result.destinations == pytest.approx(dict.fromkeys(ENDPOINTS, 1 / 3))
    assert all(outcome.affinity == () for outcome in result.outcomes)


def test_a_source_in_a_record_goes_only_to_that_endpoint(plane):
    traced = tracer(plane)
    for outcome in traced.trace(STICKY, None, frozenset()).outcomes:
        pinned = traced.trace(STICKY, None, frozenset(outcome.affinity))
        assert pinned.destinations == {outcome.destination: 1.0}
        # ... and refreshes the record, so the client keeps sticking.
        assert [o.affinity for o in pinned.outcomes] == [outcome.affinity]


def test_a_record_of_another_service_changes_nothing(plane):
    traced = tracer(plane)
    names = frozenset(name for name in traced.affinity_timeouts)
    assert len(names) == 3
    assert traced.trace(PLAIN, None, names).destinations == pytest.approx(
        dict.fromkeys(ENDPOINTS, 1 / 3)
    )


def test_sampler_keeps_a_client_until_the_timeout_passes(plane):
    """Reconnecting within the timeout sticks; once the record is older, the client moves."""
    simulation = sampler(plane, seed=5)
    assert len(simulation.run(STICKY, 50, interval=TIMEOUT - 1)) == 1
    simulation.advance(TIMEOUT)
    # 100 draws of 1 in 3 all missing an endpoint: about 3 * (2/3)**100, never in practice.
    assert set(simulation.run(STICKY, 100, interval=TIMEOUT + 1)) == ENDPOINTS


def test_each_client_sticks_to_its_own_endpoint(plane):
    simulation = sampler(plane, seed=2)
    clients = [Packet(f"10.9.1.{i}", STICKY.dst, STICKY.dport) for i in range(1, 61)]
    simulation.run(clients, 60)
    chosen = {c.src: simulation.connect(c, sport=60000).destination for c in clients}
    assert set(chosen.values()) == ENDPOINTS
    simulation.advance(TIMEOUT - 1)
    assert {c.src: simulation.connect(c, sport=60001).destination for c in clients} == chosen


@pytest.mark.parametrize(
    ("statement", "error"),
    [
        ("update @seen { ip daddr }", "unsupported update form"),
        ("update seen { ip saddr }", "unsupported update form"),
        ("update @missing { ip saddr }", "no such set or map 'missing'"),
    ],
)
def test_nft_updates_the_tracer_cannot_model_are_refused(statement, error):
    """Affinity is tracked per source address: any other `update` is an error, not a no-op."""
    text = (
        "add table ip t\n"
        "add chain ip t pre { type nat hook prerouting priority -100 ; }\n"
        "add set ip t seen { type ipv4_addr ; flags dynamic,timeout ; timeout 1m ; }\n"
        f"add rule ip t pre {statement}\n"
    )
    assert "seen" in load(text).tables["ip", "t"].sets
    with pytest.raises(NftError, match=error):
        NFTablesTracer(text, CONFIG).trace(STICKY)
