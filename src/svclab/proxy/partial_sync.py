"""What kube-proxy writes when the cluster changes: a partial sync, from an old state to a new one.

kube-proxy does not rewrite every rule on every change. Between two states it writes:

- **iptables** (KEP-3453, "Minimizing iptables-restore input size", GA in 1.28): an
  ``iptables-restore --noflush`` input with the whole ``*filter`` table and the fixed ``*nat``
  chains (``KUBE-SERVICES``, ``KUBE-NODEPORTS``, ``KUBE-POSTROUTING``, ``KUBE-MARK-MASQ``) as
  always, but the per-Service chains (``KUBE-SVC-``, ``KUBE-SVL-``, ``KUBE-EXT-``, ``KUBE-FW-``,
  ``KUBE-SEP-``) only for Services whose Service or EndpointSlices changed; chains no longer
  used are declared (which flushes them) and deleted with ``-X``.
- **nftables**: one ``nft -f`` transaction with only the changes: for a changed Service, each of
  its chains is added, flushed and refilled; set and map elements are added or deleted one by
  one; chains of a Service that went away are flushed now and deleted by a later transaction.

A Service counts as changed when its object or one of its EndpointSlices differs, as
kube-proxy's change trackers decide (upstream `UpdatedServices`). When anything else differs
(the fixed rules themselves), kube-proxy does a full sync, and so does this module.

>>> from svclab.api.manifests import load_text
>>> from svclab.proxy.config import ProxyConfig
>>> def cluster(endpoints):
...     slices = "".join(f'''
... ---
... apiVersion: discovery.k8s.io/v1
... kind: EndpointSlice
... metadata: {{name: {name}-1, namespace: ns, labels: {{kubernetes.io/service-name: {name}}}}}
... addressType: IPv4
... endpoints: [{", ".join("{addresses: [%s]}" % ip for ip in ips)}]
... ports: [{{name: http, port: 8080}}]''' for name, ips in endpoints.items())
...     services = "".join(f'''
... ---
... apiVersion: v1
... kind: Service
... metadata: {{name: {name}, namespace: ns}}
... spec: {{clusterIP: 10.96.0.{i + 10}, ports: [{{name: http, port: 80}}]}}'''
...         for i, name in enumerate(endpoints))
...     return ClusterState.from_manifests(load_text(services + slices))
>>> old = cluster({"a": ["10.1.0.1", "10.1.0.2"], "b": ["10.1.0.3"]})
>>> new = cluster({"a": ["10.1.0.1"], "b": ["10.1.0.3"]})
>>> config = ProxyConfig(hostname_override="n", cluster_cidr="10.0.0.0/8")
>>> sorted(changed_services(old, new))
[('ns', 'a')]
>>> tx = nftables_transaction(old, new, config)
>>> print(tx.text, end="")
add chain ip kube-proxy endpoint-U52V6OTG-ns/a/tcp/http__10.1.0.1/8080
flush chain ip kube-proxy endpoint-U52V6OTG-ns/a/tcp/http__10.1.0.1/8080
add rule ip kube-proxy endpoint-U52V6OTG-ns/a/tcp/http__10.1.0.1/8080 ip saddr 10.1.0.1 jump mark-for-masquerade
add rule ip kube-proxy endpoint-U52V6OTG-ns/a/tcp/http__10.1.0.1/8080 meta l4proto tcp dnat to 10.1.0.1:8080
add chain ip kube-proxy service-JV5AMCJF-ns/a/tcp/http
flush chain ip kube-proxy service-JV5AMCJF-ns/a/tcp/http
add rule ip kube-proxy service-JV5AMCJF-ns/a/tcp/http ip daddr 10.96.0.10 ip saddr != 10.0.0.0/8 jump mark-for-masquerade
add rule ip kube-proxy service-JV5AMCJF-ns/a/tcp/http numgen random mod 1 vmap { 0 : goto endpoint-U52V6OTG-ns/a/tcp/http__10.1.0.1/8080 }
flush chain ip kube-proxy endpoint-7BWVTX44-ns/a/tcp/http__10.1.0.2/8080
>>> tx.operations
9
>>> restore = iptables_restore(old, new, config)
>>> [line for line in restore.text.splitlines() if line.startswith("-X")]
['-X KUBE-SEP-HHBOR6BMWQYXIOSB']
>>> restore.full, sum(line.startswith("-A KUBE-SEP-") for line in restore.text.splitlines())
(False, 2)
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from svclab.api.manifests import to_manifest_dict
from svclab.api.state import SERVICE_NAME_LABEL, ClusterState, namespace_of
from svclab.errors import SvclabError
from svclab.proxy.config import ProxyConfig
from svclab.proxy.iptables.render import endpoint_chain, port_proto_hash
from svclab.proxy.iptables.render import render as render_iptables
from svclab.proxy.nftables.render import render as render_nftables
from svclab.proxy.servicemap import build_service_ports

ServiceKey = tuple[str, str]
"""(namespace, name) of a Service."""

IPTABLES_SERVICE_CHAINS = ("KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-", "KUBE-SEP-")
"""Per-Service chain prefixes; every other chain is fixed and written on every sync."""


@dataclass(frozen=True, slots=True)
class Change:
    """What one sync hands to the kernel: the text, its operation count, and whether it is full."""

    text: str
    operations: int
    """nft: transaction operations (upstream `NumOperations`); iptables: lines of the input."""
    full: bool = False
    """True when something other than per-Service rules changed: then everything is written."""

    def __str__(self) -> str:
        return self.text


def partial(mode: str, old: ClusterState, new: ClusterState, config: ProxyConfig) -> Change:
    """What `mode` (``iptables`` or ``nftables``) writes to go from `old` to `new`.

    >>> partial("ipvs", ClusterState(), ClusterState(), ProxyConfig(hostname_override="n"))
    Traceback (most recent call last):
    ...
    svclab.errors.SvclabError: --since: ipvs mode has no partial sync in svclab (iptables or nftables)
    """
    writers = {"iptables": iptables_restore, "nftables": nftables_transaction}
    if mode not in writers:
        raise SvclabError(
            f"--since: {mode} mode has no partial sync in svclab (iptables or nftables)"
        )
    return writers[mode](old, new, config)


def changed_services(old: ClusterState, new: ClusterState) -> set[ServiceKey]:
    """Services whose object or EndpointSlices differ between `old` and `new` (added and deleted ones too)."""
    before, after = _fingerprints(old), _fingerprints(new)
    return {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}


def _fingerprints(state: ClusterState) -> dict[ServiceKey, list[str]]:
    prints: dict[ServiceKey, list[str]] = {}
    for service in state.services:
        key = (namespace_of(service), service.metadata.name)
        prints.setdefault(key, []).append(_canonical(service))
    for endpoint_slice in state.endpoint_slices:
        owner = (endpoint_slice.metadata.labels or {}).get(SERVICE_NAME_LABEL)
        if owner:
            prints.setdefault((namespace_of(endpoint_slice), owner), []).append(
                _canonical(endpoint_slice)
            )
    return {key: sorted(values) for key, values in prints.items()}


def _canonical(obj: object) -> str:
    return json.dumps(to_manifest_dict(obj), sort_keys=True, default=str)


# -- nftables ---------------------------------------------------------------------------------

_PREFIX = "ip kube-proxy "


def nftables_transaction(old: ClusterState, new: ClusterState, config: ProxyConfig) -> Change:
    """The ``nft -f`` transaction kube-proxy sends to go from `old` to `new`."""
    old_text, new_text = render_nftables(old, config), render_nftables(new, config)
    before, after = _NftDump(old_text), _NftDump(new_text)
    if before.fixed != after.fixed:
        return Change(new_text, after.operations(), full=True)
    changed = changed_services(old, new)
    lines: list[str] = []
    for name, body in after.chains.items():
        if _nft_owner(name) in changed:
            lines += [f"add chain {_PREFIX}{name}", f"flush chain {_PREFIX}{name}"]
            lines += [f"add rule {_PREFIX}{name} {rule}" for rule in body]
    lines += [line for key, line in after.sets.items() if _nft_owner(key) in changed]
    for key, line in before.elements.items():
        if after.elements.get(key) != line:
            lines.append(f"delete element {_PREFIX}{key[0]} {{ {key[1]} }}")
    lines += [line for key, line in after.elements.items() if before.elements.get(key) != line]
    lines += [f"flush chain {_PREFIX}{name}" for name in before.chains if name not in after.chains]
    return Change("\n".join(lines) + ("\n" if lines else ""), len(lines))


def _nft_owner(name: str) -> ServiceKey | None:
    """The Service of a per-Service chain or set (``service-HASH-ns/svc/…``); None for fixed ones.

    >>> _nft_owner("endpoint-5TPGNJF2-ns1/svc1/tcp/p80__10.0.1.1/80"), _nft_owner("services")
    (('ns1', 'svc1'), None)
    """
    if "/" not in name:
        return None
    namespace, service = name.split("-", 2)[2].split("/")[:2]
    return namespace, service


class _NftDump:
    """A rendered ``nft -f`` text split into per-Service chains and sets, elements, and the rest."""

    def __init__(self, text: str) -> None:
        self.chains: dict[str, list[str]] = {}
        self.sets: dict[str, str] = {}
        self.elements: dict[tuple[str, str], str] = {}
        self.fixed: list[str] = []
        for line in text.splitlines():
            words = line.split(maxsplit=5)
            if len(words) < 5 or words[2:4] != ["ip", "kube-proxy"]:
                if line.strip():
                    self.fixed.append(line)
                continue
            verb, name = f"{words[0]} {words[1]}", words[4]
            if verb == "add element":
                self.elements[(name, _element_key(line))] = line
            elif _nft_owner(name) is None:
                self.fixed.append(line)
            elif verb == "add chain":
                self.chains.setdefault(name, [])
            elif verb == "add rule":
                self.chains.setdefault(name, []).append(words[5])
            elif verb == "add set":
                self.sets[name] = line
            # "flush chain" lines of a full dump: a transaction writes its own

    def operations(self) -> int:
        """Operations of writing it all: fixed lines, chains (add + flush) and their rules, elements."""
        chains = sum(2 + len(rules) for rules in self.chains.values())
        return len(self.fixed) + chains + len(self.sets) + len(self.elements)


def _element_key(line: str) -> str:
    """The key of an ``add element`` line: what ``delete element`` names.

    >>> _element_key('add element ip kube-proxy no-endpoint-services '
    ...              '{ 172.30.0.43 . tcp . 80 comment "ns3/svc3:p80" : goto reject-chain }')
    '172.30.0.43 . tcp . 80'
    """
    body = line[line.index("{") + 1 : line.rindex("}")].strip()
    key = body.split(" : ")[0]
    return key.split(' comment "')[0].strip()


# -- iptables ---------------------------------------------------------------------------------


def iptables_restore(old: ClusterState, new: ClusterState, config: ProxyConfig) -> Change:
    """The ``iptables-restore --noflush`` input kube-proxy writes to go from `old` to `new`."""
    old_text, new_text = render_iptables(old, config), render_iptables(new, config)
    if _fixed_lines(old_text) != _fixed_lines(new_text):
        return Change(new_text, len(new_text.splitlines()), full=True)
    rewrite = _iptables_chains(new, config, changed_services(old, new))
    stale = _service_chains(old_text) - _service_chains(new_text)
    lines: list[str] = []
    for line in new_text.splitlines():
        chain = _iptables_chain(line)
        if chain is not None and chain.startswith(IPTABLES_SERVICE_CHAINS) and chain not in rewrite:
            continue
        if line == "COMMIT" and _in_nat(lines):
            lines += [f"-X {name}" for name in sorted(stale)]
        lines.append(line)
        if line.startswith(":KUBE-MARK-MASQ"):
            lines += [f":{name} - [0:0]" for name in sorted(stale)]
    return Change("\n".join(lines) + "\n", len(lines))


def _in_nat(lines: list[str]) -> bool:
    tables = [line for line in lines if line.startswith("*")]
    return bool(tables) and tables[-1] == "*nat"


def _iptables_chain(line: str) -> str | None:
    """The chain a restore line declares (``:X``) or appends to (``-A X``)."""
    if line.startswith(":"):
        return line[1:].split()[0]
    if line.startswith("-A "):
        return line.split()[1]
    return None


def _service_chains(text: str) -> set[str]:
    return {
        line[1:].split()[0]
        for line in text.splitlines()
        if line.startswith(":") and line[1:].startswith(IPTABLES_SERVICE_CHAINS)
    }


def _fixed_lines(text: str) -> list[str]:
    """Lines outside per-Service chains, less the jumps into them (they follow the Services)."""
    return [
        line
        for line in text.splitlines()
        if not (_iptables_chain(line) or "").startswith(IPTABLES_SERVICE_CHAINS)
        and not any(f"-j {prefix}" in line for prefix in IPTABLES_SERVICE_CHAINS)
        and not line.startswith(
            ("-A KUBE-SERVICES", "-A KUBE-NODEPORTS", "-A KUBE-EXTERNAL-SERVICES")
        )
    ]


def _iptables_chains(
    state: ClusterState, config: ProxyConfig, services: set[ServiceKey]
) -> set[str]:
    """Every per-Service chain name kube-proxy could give the ports of `services` in `state`."""
    names: set[str] = set()
    for port in build_service_ports(state, config):
        if (port.namespace, port.service) not in services:
            continue
        base = port_proto_hash(port.name, port.proto)
        names |= {f"{prefix}{base}" for prefix in IPTABLES_SERVICE_CHAINS[:4]}
        names |= {endpoint_chain(port.name, port.proto, ep.address) for ep in port.endpoints}
    return names
