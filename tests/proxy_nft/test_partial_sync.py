"""Partial syncs: upstream's TestSyncProxyRulesRepeated, step by step, and what each step writes.

Upstream (kubernetes/kubernetes pkg/proxy/nftables/proxier_test.go@81810de6,
TestSyncProxyRulesRepeated) counts the operations of each sync's transaction; the comments
there say which: add+flush per rewritten chain plus its rules, one per element added or
deleted, one flush per chain of a Service that went away.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
from conftest import require
from nft_helpers import fake_config

from svclab.api.manifests import load_text
from svclab.api.state import ClusterState
from svclab.proxy.iptables.render import render as render_iptables
from svclab.proxy.nftables.render import render as render_nftables
from svclab.proxy.partial_sync import (
    _NftDump,
    changed_services,
    iptables_restore,
    nftables_transaction,
)
from svclab.proxy.rules.iptables import parse

SERVICES = {  # name: (namespace, ClusterIP, port name, port)
    "svc1": ("ns1", "172.30.0.41", "p80", 80),
    "svc2": ("ns2", "172.30.0.42", "p8080", 8080),
    "svc3": ("ns3", "172.30.0.43", "p80", 80),
    "svc4": ("ns4", "172.30.0.44", "p80", 80),
}


def cluster(**endpoints: list[str] | None) -> ClusterState:
    """The named Services; a list gives the Service an EndpointSlice with those addresses,
    None gives it none."""
    docs = []
    for name, ips in endpoints.items():
        ns, ip, port_name, port = SERVICES[name]
        docs.append(
            f"apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: {ns}}}\n"
            f"spec: {{clusterIP: {ip}, ports: [{{name: {port_name}, port: {port}, protocol: TCP}}]}}"
        )
        if ips is not None:
            listed = ", ".join(f"{{addresses: [{a}]}}" for a in ips)
            docs.append(
                "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
                f"metadata: {{name: {name}-1, namespace: {ns}, "
                f"labels: {{kubernetes.io/service-name: {name}}}}}\naddressType: IPv4\n"
                f"endpoints: [{listed}]\nports: [{{name: {port_name}, port: {port}, protocol: TCP}}]"
            )
    return ClusterState.from_manifests(load_text("\n---\n".join(docs)))


S0 = cluster(svc1=["10.0.1.1"], svc2=["10.0.2.1"])
S1 = cluster(svc1=["10.0.1.1"], svc2=["10.0.2.1"], svc3=["10.0.3.1"])
S2 = cluster(svc1=["10.0.1.1"], svc3=["10.0.3.1"])
S3 = cluster(svc1=["10.0.1.1"], svc3=["10.0.3.1"], svc4=None)
S4 = cluster(svc1=["10.0.1.1"], svc3=["10.0.3.1"], svc4=["10.0.4.1"])
S5 = cluster(svc1=["10.0.1.1"], svc3=["10.0.3.2"], svc4=["10.0.4.1"])
S6 = cluster(svc1=["10.0.1.1"], svc3=["10.0.3.2", "10.0.3.3"], svc4=["10.0.4.1"])
S7 = cluster(svc1=["10.0.1.1"], svc3=[], svc4=["10.0.4.1"])

STEPS = [
    # (upstream's step, old, new, operations upstream expects)
    ("add svc3 with an endpoint", S0, S1, 10),
    ("delete svc2", S1, S2, 4),
    ("stale chains aged, nothing else changed", S2, S2, 0),
    ("add svc4 without endpoints", S2, S3, 2),
    ("add svc4's endpoints", S3, S4, 10),
    ("change svc3's endpoint", S4, S5, 9),
    ("add an endpoint to svc3", S5, S6, 12),
    ("empty svc3's endpoints", S6, S7, 5),
    ("restore svc3's endpoints", S7, S6, 14),
    ("sync with no changes", S6, S6, 0),
]
IDS = [step[0] for step in STEPS]


@pytest.mark.parametrize(("step", "old", "new", "operations"), STEPS, ids=IDS)
def test_upstream_repeated_sync_operation_counts(step, old, new, operations):
    tx = nftables_transaction(old, new, fake_config())
    assert not tx.full
    assert tx.operations == operations == len(tx.text.splitlines())


def test_changed_services_follow_objects_not_output():
    assert changed_services(S4, S5) == {("ns3", "svc3")}
    assert changed_services(S2, S3) == {("ns4", "svc4")}
    assert changed_services(S6, S6) == set()


def apply_nft(old_text: str, transaction: str) -> tuple[dict, dict]:
    """Per-Service chains (non-empty) and elements after applying `transaction` to `old_text`."""
    dump = _NftDump(old_text)
    chains, elements = {k: list(v) for k, v in dump.chains.items()}, dict(dump.elements)
    for line in transaction.splitlines():
        verb, _, _, _, name, *rest = line.split(maxsplit=5)
        if verb == "delete":
            key = line[line.index("{") + 1 : line.rindex("}")].strip()
            del elements[(name, key)]
        elif line.startswith("add element"):
            elements[(name, _NftDump(line).elements.popitem()[0][1])] = line
        elif line.startswith("flush chain"):
            chains[name] = []
        elif line.startswith("add chain"):
            chains.setdefault(name, [])
        elif line.startswith("add rule"):
            chains[name].append(rest[0])
    return {k: v for k, v in chains.items() if v}, elements


@pytest.mark.parametrize(("step", "old", "new", "operations"), STEPS, ids=IDS)
def test_nft_transaction_takes_old_rules_to_new(step, old, new, operations):
    config = fake_config()
    chains, elements = apply_nft(
        render_nftables(old, config), nftables_transaction(old, new, config).text
    )
    want = _NftDump(render_nftables(new, config))
    assert chains == want.chains
    assert elements == want.elements


@pytest.mark.parametrize(("step", "old", "new", "operations"), STEPS, ids=IDS)
def test_iptables_partial_restore_takes_old_rules_to_new(step, old, new, operations):
    """As iptables-restore --noflush does: a declared chain is flushed and refilled, -X deletes,
    chains the input does not mention keep their rules."""
    config = fake_config(masquerade_mark=None)
    tables = parse(render_iptables(old, config))
    change = iptables_restore(old, new, config)
    for name, table in parse(change.text).items():
        kept = tables[name]
        for chain in table.declarations:
            kept.chains[chain] = list(table.chains.get(chain, []))
        for deletion in table.deletions:  # "-X CHAIN"
            del kept.chains[deletion.split()[1]]
    want = parse(render_iptables(new, config))
    for name, table in want.items():
        got = {c: [r.raw for r in rules] for c, rules in tables[name].chains.items()}
        assert got == {c: [r.raw for r in rules] for c, rules in table.chains.items()}


def test_iptables_partial_restore_skips_unchanged_services():
    change = iptables_restore(S4, S5, fake_config())
    text = change.text
    assert "10.0.3.2" in text and "-X KUBE-SEP-" in text
    assert "-A KUBE-SEP-" in text and "10.0.1.1:80" not in text  # svc1's chains are not rewritten
    assert "-A KUBE-SERVICES" in text  # the dispatch chain is always written in full


def test_a_config_change_is_a_full_sync():
    tx = nftables_transaction(S1, S1, fake_config(service_cidrs=("172.31.0.0/16",)))
    assert tx.operations == 0  # same config both sides: nothing to write
    # different service CIDR: the fixed rules differ, so everything is written
    old_config, new_config = fake_config(), fake_config(service_cidrs=("172.31.0.0/16",))
    assert render_nftables(S1, old_config) != render_nftables(S1, new_config)


@pytest.mark.parametrize(("step", "old", "new", "operations"), STEPS[:6], ids=IDS[:6])
def test_the_kernel_accepts_old_rules_then_the_transaction(step, old, new, operations, tmp_path):
    """`nft -c` checks the full old ruleset followed by the transaction in a new netns."""
    require(
        shutil.which("nft") is not None and shutil.which("unshare") is not None,
        "needs nft and unshare",
    )
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    require(probe.returncode == 0, "cannot make a network namespace (not root?)")
    config = fake_config()
    script = tmp_path / "sync.nft"
    script.write_text(render_nftables(old, config) + nftables_transaction(old, new, config).text)
    result = subprocess.run(
        ["unshare", "-n", "nft", "-c", "-f", str(script)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
