"""nftables tracer: upstream's packet-flow tests run through the rendered rules, and its semantics.

Flow cases: tests/data/proxy_nft/flows.yaml, ported from kubernetes/kubernetes
pkg/proxy/nftables/proxier_test.go@81810de6 (each scenario names its upstream test).
"""

from __future__ import annotations

from fractions import Fraction

import pytest
import yaml
from nft_helpers import DATA, fake_config, manifests, upstream_output

from svclab.proxy.config import ProxyConfig
from svclab.proxy.nftables.render import render
from svclab.proxy.nftables.trace import trace
from svclab.proxy.packet import Packet, SourceKind
from svclab.proxy.rules.nftables import NftError, load


def flow_cases():
    for scenario in yaml.safe_load((DATA / "flows.yaml").read_text()):
        overrides = dict(scenario.get("overrides", {}))
        names = {case[0] for case in scenario["cases"]}
        assert set(overrides) <= names, f"{scenario['upstream']}: overrides match no case"
        for name, src, dst, dport, output, masq, *proto in scenario["cases"]:
            override = overrides.get(name, {})
            yield pytest.param(
                scenario,
                Packet(src, dst, dport, *proto),
                override.get("output", output),
                override.get("masq", masq),
                id=f"{scenario['upstream']}: {name}",
            )


_RENDERED: dict[str, tuple[str, ProxyConfig]] = {}


def rendered(scenario) -> tuple[str, ProxyConfig]:
    """Render each scenario once for all its cases."""
    key = scenario["upstream"]
    if key not in _RENDERED:
        config = fake_config(**scenario.get("config", {}))
        state = manifests(*(f"flows/{name}" for name in scenario["manifests"]))
        _RENDERED[key] = (render(state, config), config)
    return _RENDERED[key]


@pytest.mark.parametrize(("scenario", "packet", "output", "masq"), list(flow_cases()))
def test_upstream_packet_flow(scenario, packet, output, masq):
    text, config = rendered(scenario)
    result = trace(text, packet, config)
    assert upstream_output(result) == output, "\n".join(result.rules)
    assert bool(result.masquerade) is masq, "\n".join(result.rules)


# --- semantics of the tracer itself, on small hand-written rulesets ---------------------------

CONFIG = ProxyConfig(hostname_override="n", node_ips=["192.168.0.2"], cluster_cidr="10.0.0.0/8")
HEAD = """add table ip t
add chain ip t pre { type nat hook prerouting priority -100 ; }
add chain ip t fwd { type filter hook forward priority 0 ; }
add chain ip t post { type nat hook postrouting priority 100 ; }
"""


def test_numgen_probabilities_follow_the_modulus():
    """`mod 3` with two entries: each entry 1/3, the missing value falls through (no DNAT)."""
    text = (
        HEAD
        + """add chain ip t a
add rule ip t a dnat to 10.1.0.1
add rule ip t pre numgen random mod 3 vmap { 0 : goto a , 2 : goto a }
"""
    )
    result = trace(text, Packet("10.0.0.5", "10.96.0.1", 80), CONFIG)
    shares = [(o.verdict, Fraction(o.probability).limit_denominator(10)) for o in result.outcomes]
    third = Fraction(1, 3)
    assert shares == [("DNAT", third), ("DNAT", third), ("NO-MATCH", third)]
    assert result.destinations == {"10.1.0.1:80": pytest.approx(2 / 3)}


def test_goto_returns_to_the_caller_of_the_chain_jump_returns_to_the_next_rule():
    text = (
        HEAD
        + """add chain ip t mark1
add rule ip t mark1 mark set mark or 0x1
add chain ip t viajump
add rule ip t viajump jump mark1
add rule ip t viajump mark set mark or 0x2
add chain ip t viagoto
add rule ip t viagoto goto mark1
add rule ip t viagoto mark set mark or 0x4
add rule ip t pre jump viajump
add rule ip t pre jump viagoto
add rule ip t pre mark 0x3 dnat to 10.1.0.3:8080
add rule ip t pre dnat to 10.1.0.9:8080
"""
    )
    result = trace(text, Packet("10.0.0.5", "10.96.0.1", 80), CONFIG)
    # mark 0x1|0x2 = 0x3 (0x4 never set: goto does not come back to viagoto).
    assert result.destinations == {"10.1.0.3:8080": 1.0}


def test_masquerade_needs_the_mark_and_drop_stops_the_packet():
    text = (
        HEAD
        + """add rule ip t pre ip saddr 10.0.0.5 mark set mark or 0x4000
add rule ip t pre dnat to 10.1.0.1:80
add rule ip t fwd ip saddr 10.0.0.6 drop
add rule ip t post mark and 0x4000 == 0 return
add rule ip t post masquerade fully-random
"""
    )
    marked = trace(text, Packet("10.0.0.5", "10.96.0.1", 80), CONFIG)
    plain = trace(text, Packet("10.0.0.7", "10.96.0.1", 80), CONFIG)
    dropped = trace(text, Packet("10.0.0.6", "10.96.0.1", 80), CONFIG)
    assert (marked.verdict, marked.masquerade) == ("DNAT", True)
    assert (plain.verdict, plain.masquerade) == ("DNAT", False)
    assert (dropped.verdict, dropped.destinations) == ("DROP", {})


def test_node_traffic_takes_the_output_hook_only():
    text = (
        HEAD
        + """add chain ip t out { type nat hook output priority -100 ; }
add rule ip t out dnat to 10.1.0.2:80
add rule ip t pre dnat to 10.1.0.1:80
"""
    )
    from_node = trace(text, Packet("192.168.0.2", "10.96.0.1", 80), CONFIG)
    from_pod = trace(text, Packet("10.0.0.5", "10.96.0.1", 80), CONFIG)
    assert from_node.source is SourceKind.NODE
    assert from_node.destinations == {"10.1.0.2:80": 1.0}
    assert from_pod.destinations == {"10.1.0.1:80": 1.0}


def test_rules_and_evaluated_count():
    text, config = render(manifests("overall.yaml"), fake_config()), fake_config()
    result = trace(text, Packet("10.0.0.2", "172.30.0.41", 80), config)
    assert result.rules[:3] == (
        "filter-prerouting-pre-dnat: ct state new jump firewall-check",
        "nat-prerouting: jump services",
        "services: ip daddr . meta l4proto . th dport vmap @service-ips"
        " => goto service-ULMVA6XW-ns1/svc1/tcp/p80",
    )
    assert result.outcomes[0].rules[-1] == "masquerading: mark and 0x4000 == 0 return"
    # Every rule met counts, matching or not; more than matched, fewer than in the ruleset.
    assert len(result.rules) < result.evaluated < 60


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("add chain ip t c", "no such table ip t"),
        ("add table ip t\nadd rule ip t c drop", "no such chain 'c'"),
        ("add table ip t\nadd element ip t s { 1.2.3.4 }", "no such set or map 's'"),
        ("add table ip t\nlist ruleset", "unsupported command"),
        (
            "add table ip t\nadd set ip t s { type ipv4_addr ; }\nadd element ip t s { 1.2.3.4 : drop }",
            "does not fit",
        ),
    ],
)
def test_load_rejects_what_nft_would_reject(text, message):
    with pytest.raises(NftError, match=message):
        load(text)


def test_unsupported_expression_is_reported_not_ignored():
    text = HEAD + "add rule ip t pre meta iifname eth0 drop\n"
    with pytest.raises(NftError, match="unsupported expression"):
        trace(text, Packet("10.0.0.5", "10.96.0.1", 80), CONFIG)


def test_truncated_rule_is_an_error_not_a_traceback():
    text = HEAD + "add rule ip t pre mark set mark or\n"
    with pytest.raises(NftError, match="cannot read rule"):
        trace(text, Packet("10.0.0.5", "10.96.0.1", 80), CONFIG)
