"""What each way of publishing a Service creates: addresses, ports, kube-proxy rules, DNS records.

Everything is read back from svclab's own components: the Service as the model API server
stored it (allocated ClusterIP and NodePorts), the rules the iptables renderer writes for it,
and the records the DNS server builds.

>>> from svclab.cluster import Cluster
>>> cluster = Cluster(seed=0)
>>> _ = cluster.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db"},
...                    "spec": {"type": "ExternalName", "externalName": "db.example.com"}})
>>> config = ProxyConfig(hostname_override="node-1", node_ips=["172.18.0.2"])
>>> [row["DNS"] for row in what_is_created(cluster.state(), config)]
['CNAME db.example.com.']
"""

from __future__ import annotations

import copy
import re

import svclab.proxy.iptables.render as iptables
import svclab.proxy.iptables.trace as iptables_trace
import svclab.proxy.nftables.render as nftables
import svclab.proxy.nftables.trace as nftables_trace
from svclab.api.state import ClusterState, namespace_of
from svclab.dns.records import build_records
from svclab.proxy.config import ProxyConfig
from svclab.proxy.packet import Packet, SourceKind
from svclab.report.result import say

ZONE = "cluster.local"

_COLUMNS = {
    "type": {"en": "type", "zh_CN": "类型"},
    "name": {"en": "Service", "zh_CN": "Service"},
    "cluster_ip": {"en": "ClusterIP", "zh_CN": "ClusterIP"},
    "ports": {"en": "port → nodePort", "zh_CN": "端口 → nodePort"},
    "entries": {"en": "kube-proxy matches", "zh_CN": "kube-proxy 匹配的目的地址"},
    "rules": {"en": "iptables rules", "zh_CN": "iptables 规则数"},
    "dns": {"en": "DNS", "zh_CN": "DNS"},
}
_NONE = {"en": "none", "zh_CN": "无"}
_NODE = {"en": "every node", "zh_CN": "每个节点"}
_MODE = {"en": "mode", "zh_CN": "模式"}

_ENTRY = re.compile(
    r'^-A KUBE-(?:SERVICES|NODEPORTS) -m comment --comment "?(?P<svc>[^ "]+?):\S*'
    r'(?: (?P<what>cluster IP|external IP|loadbalancer IP))?"? .*?'
    r"(?:-d (?P<ip>\S+) )?--dport (?P<port>\d+)"
)


def service_rules(text: str, namespace: str, name: str) -> list[str]:
    """The rules of an iptables-restore input that belong to Service ``namespace/name``.

    >>> rules = '-A KUBE-SERVICES -m comment --comment "default/web:http cluster IP" -j X\\n'
    >>> service_rules(rules, "default", "web"), service_rules(rules, "default", "we")
    (['-A KUBE-SERVICES -m comment --comment "default/web:http cluster IP" -j X'], [])
    """
    tag = re.compile(rf'--comment "?{re.escape(namespace)}/{re.escape(name)}:')
    return [line for line in text.splitlines() if line.startswith("-A ") and tag.search(line)]


def _entries(rules: list[str], lang: str) -> list[str]:
    """Where packets enter the Service's chains: ``ip:port``, or the NodePort on every node."""
    found = []
    for rule in rules:
        match = _ENTRY.match(rule)
        if match:
            where = match["ip"] or say(_NODE, lang)
            found.append(f"{where}:{match['port']}")
    return found


def _dns(state: ClusterState, namespace: str, name: str) -> str:
    table = build_records(state, ZONE, serial=1)
    texts = []
    for rdtype in ("CNAME", "A"):
        answer = table.lookup(f"{name}.{namespace}.svc.{ZONE}.", rdtype)
        for rrset in answer.answer:
            texts += [f"{rrset.rdtype.name} {item.to_text()}" for item in rrset]
        if texts:
            break
    return ", ".join(dict.fromkeys(texts))


def what_is_created(state: ClusterState, config: ProxyConfig, lang: str = "en") -> list[dict]:
    """One row per Service (the ``kubernetes`` Service left out), with column names in `lang`."""
    text = iptables.render(state, config)
    rows = []
    for svc in state.services:
        namespace, name = namespace_of(svc), svc.metadata.name
        if (namespace, name) == ("default", "kubernetes"):
            continue
        spec = svc.spec
        ports = [
            f"{p.port} → {p.node_port}" if p.node_port else str(p.port) for p in spec.ports or []
        ]
        rules = service_rules(text, namespace, name)
        values = {
            "type": spec.type or "ClusterIP",
            "name": name,
            "cluster_ip": spec.cluster_ip or say(_NONE, lang),
            "ports": ", ".join(ports) or say(_NONE, lang),
            "entries": ", ".join(_entries(rules, lang)) or say(_NONE, lang),
            "rules": len(rules),
            "dns": _dns(state, namespace, name) or say(_NONE, lang),
        }
        rows.append({say(_COLUMNS[key], lang): value for key, value in values.items()})
    return rows


MODES = {
    "iptables": (iptables.render, iptables_trace.trace, ()),
    "nftables": (nftables.render, nftables_trace.trace, ("primary",)),
}
"""Mode → renderer, tracer and the ``--nodeport-addresses`` that kube-proxy 1.35 uses when the
flag is not given (nftables defaults to ``primary``; iptables to every local address)."""


def nodeport_answers(
    state: ClusterState,
    node_port: int,
    node_ips: list[str],
    *,
    client: str = "198.51.100.7",
    hostname: str = "node-1",
    lang: str = "en",
) -> list[dict]:
    """Which of the node's addresses (and 127.0.0.1) answer `node_port`, in each mode's default.

    A remote `client` tries each node address; the node itself tries 127.0.0.1. The verdict is
    the tracer's (``DNAT``: sent to a Pod).
    """
    rows = []
    for mode, (render, trace, default) in MODES.items():
        config = ProxyConfig(
            hostname_override=hostname,
            node_ips=node_ips,
            cluster_cidr="10.244.0.0/16",
            nodeport_addresses=default,
        )
        text = render(state, config)
        row: dict = {say(_MODE, lang): mode}
        for address in [*node_ips, "127.0.0.1"]:
            local = address == "127.0.0.1"
            packet = Packet("127.0.0.1" if local else client, address, node_port)
            source = SourceKind.NODE if local else SourceKind.EXTERNAL
            row[address] = trace(text, packet, config, source).verdict
        rows.append(row)
    return rows


def with_ip_mode(state: ClusterState, namespace: str, name: str, ip_mode: str) -> ClusterState:
    """A copy of `state` where the load balancer of Service ``namespace/name`` reports `ip_mode`
    (``VIP`` or ``Proxy``) for every ingress IP, as its cloud controller would write it.

    >>> from svclab.api.manifests import load_text
    >>> state = ClusterState.from_manifests(load_text('''
    ... apiVersion: v1
    ... kind: Service
    ... metadata: {name: lb}
    ... spec: {type: LoadBalancer, clusterIP: 10.96.0.20, ports: [{port: 80, nodePort: 30080}]}
    ... status: {loadBalancer: {ingress: [{ip: 192.0.2.80}]}}
    ... '''))
    >>> with_ip_mode(state, "default", "lb", "Proxy").services[0].status.load_balancer.ingress[0].ip_mode
    'Proxy'
    >>> state.services[0].status.load_balancer.ingress[0].ip_mode is None
    True
    """
    if ip_mode not in ("VIP", "Proxy"):
        raise ValueError(f"ipMode must be VIP or Proxy, got {ip_mode!r}")
    changed = copy.deepcopy(state)
    for svc in changed.services:
        if (namespace_of(svc), svc.metadata.name) == (namespace, name):
            for ingress in svc.status.load_balancer.ingress or []:
                ingress.ip_mode = ip_mode
            return changed
    raise LookupError(f"no Service {namespace}/{name}")
