"""Does the kernel do what the tracer says? Verdict, Pods, source address and distribution.

The tracer walks the same rule text the kernel runs and gives every possible destination with
its probability and whether it is masqueraded. The kernel then gets a fixed number of real
connections, and every one must match: a DNAT verdict means every connection reaches a Pod the
tracer allows (no retries), seeing the source address the tracer predicts; REJECT means refused,
DROP means timed out. The Pods hit must fit the tracer's probabilities (Pearson's chi-square at
`ALPHA`, so a correct kernel fails one run in a million), unless the sampler, which replays the
same number of connections with conntrack and ClientIP affinity, keeps the client on one backend:
then the kernel must too. `agree` checks a whole lab run (`svclab.kernel.lab`) the same way,
bar the distribution: a run makes too few connections per address for it.

>>> expected_outcome("DNAT"), expected_outcome("REJECT"), expected_outcome("DROP")
('ok', 'refused', 'timeout')
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from svclab.api.state import ClusterState
from svclab.kernel.drive import CONNECT_TIMEOUT, DROP_TIMEOUT, Connection, connect_many
from svclab.kernel.lab import LabRun, source_of
from svclab.kernel.modelled import sampler, trace
from svclab.kernel.stats import goodness_of_fit
from svclab.kernel.topology import (
    KernelNode,
    TopologyPlan,
    node_config,
    plan_topology,
    source_address,
)
from svclab.proxy.config import ProxyConfig
from svclab.proxy.packet import Packet

ALPHA = 1e-6
"""Significance of the distribution test: the false-failure rate of a correct kernel."""
DISTRIBUTION_CONNECTIONS = 400
"""Connections per address when the tracer predicts a DNAT: enough to see a 1/2-1/4-1/4 split
that should be 1/3 each (chi-square ~50 against a critical value of 27.6 at two degrees)."""
VERDICT_CONNECTIONS = 16
"""Connections per address predicted to be refused or dropped (each drop costs a timeout)."""

SEED = 3866
"""The sampler's seed: its draws are the same in every run."""


def expected_outcome(verdict: str) -> str | None:
    """What a connection sees for a tracer verdict; None when the rules decide nothing."""
    return {"DNAT": "ok", "REJECT": "refused", "DROP": "timeout"}.get(verdict)


def sample(
    mode: str, rules: str, packet: Packet, config: ProxyConfig, source: str, count: int
) -> Counter[str]:
    """The sampler's `count` connections: destination (or verdict) → connections."""
    return sampler(mode, rules, config, source, SEED).run(packet, count)


@dataclass
class Agreement:
    """The tracer's prediction for one address, what the kernel did, and every disagreement."""

    mode: str
    source: str
    target: str
    verdict: str
    expected: dict[str, float]
    """Pod → probability, from the tracer."""
    observed: Counter[str] = field(default_factory=Counter)
    """Pod (or ``(outcome)`` for a failed connection) → connections."""
    sampled: Counter[str] = field(default_factory=Counter)
    """Pod (or verdict) → the sampler's connections."""
    seen_as: dict[str, str] = field(default_factory=dict)
    """Pod → the source address it sees, from the tracer (masqueraded or not)."""
    pod_at_target: str | None = None
    """The Pod whose own address is the target, if any (it answers when no rule decides)."""
    p_value: float = 1.0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the kernel agreed with the tracer in every respect."""
        return not self.problems

    def format(self) -> str:
        """One line per address: verdict, Pods expected and seen, disagreements."""
        seen = ", ".join(f"{pod} {n}" for pod, n in sorted(self.observed.items()))
        sampled = ", ".join(f"{pod} {n}" for pod, n in sorted(self.sampled.items()))
        want = ", ".join(f"{pod} {p:.3f}" for pod, p in sorted(self.expected.items()))
        line = (
            f"{self.mode} {self.source} -> {self.target}: {self.verdict} "
            f"[traced {want or '-'}] [sampled {sampled}] [kernel {seen}] p={self.p_value:.3g}"
        )
        return line + "".join(f"\n  DISAGREES: {problem}" for problem in self.problems)


def predict(
    mode: str, rules: str, config: ProxyConfig, plan: TopologyPlan, source: str, ip: str, port: int
) -> Agreement:
    """The tracer's prediction for ``ip:port`` from `source`: verdict, Pods and what they see."""
    source_ip = source_address(plan, source)
    result = trace(mode, rules, Packet(source_ip, ip, port), config, source)
    pods = {pod.ip: pod.name for pod in plan.pods}

    def pod_of(destination: str) -> str:
        return pods.get(destination.rpartition(":")[0], destination)

    # Masquerading picks the node's address (Pod-side veths carry none, so the uplink's wins).
    seen_as = {
        pod_of(o.destination): plan.node_ips[0] if o.masquerade else source_ip
        for o in result.outcomes if o.destination
    }  # fmt: skip
    expected = {pod_of(dest): p for dest, p in result.destinations.items()}
    return Agreement(mode, source, f"{ip}:{port}", result.verdict, expected,
                     seen_as=seen_as, pod_at_target=pods.get(ip))  # fmt: skip


def check(
    node: KernelNode, mode: str, rules: str, config: ProxyConfig, source: str, ip: str, port: int
) -> Agreement:
    """Trace ``ip:port`` from `source`, connect for real, and compare."""
    agreement = predict(mode, rules, config, node.plan, source, ip, port)
    netns, source_ip = source_of(node, source)
    want = expected_outcome(agreement.verdict)
    dnat = want == "ok"
    count = DISTRIBUTION_CONNECTIONS if dnat else VERDICT_CONNECTIONS
    sampled = sample(mode, rules, Packet(source_ip, ip, port), config, source, count)
    pods = {pod.ip: pod.name for pod in node.plan.pods}
    agreement.sampled = Counter({pods.get(k.rpartition(":")[0], k): n for k, n in sampled.items()})
    connections = connect_many(netns, ip, port, count, CONNECT_TIMEOUT if dnat else DROP_TIMEOUT)
    agreement.observed = _observed(connections)
    hits = {pod: n for pod, n in agreement.observed.items() if pod in agreement.expected}
    sticky = len(agreement.sampled) == 1 < len(agreement.expected)  # ClientIP affinity
    if dnat and not sticky:
        _, _, agreement.p_value = goodness_of_fit(hits, agreement.expected)
    agreement.problems = _disagreements(agreement, connections)
    if dnat and sticky and len(hits) != 1:
        agreement.problems.append(f"the sampler keeps the client on one Pod; the kernel: {hits}")
    return agreement


def agree(run: LabRun, state: ClusterState, config: ProxyConfig) -> list[Agreement]:
    """Every address of a lab run against the tracer, in what chance does not decide.

    Which Pods may answer, the source address each sees, and which addresses refuse or time
    out; a run's few connections per address are too few for the distribution test. `state`
    and `config` are the run's own.
    """
    config = node_config(config)
    plan = plan_topology(state, config)
    agreements = []
    for result in run.results:
        t = result.target
        agreement = predict(run.mode, run.rules, config, plan, run.source, t.ip, t.port)
        agreement.observed = _observed(result.connections)
        agreement.problems = _disagreements(agreement, result.connections)
        agreements.append(agreement)
    return agreements


def _observed(connections: list[Connection]) -> Counter[str]:
    return Counter(c.pod if c.outcome == "ok" else f"({c.outcome})" for c in connections)


def _disagreements(agreement: Agreement, connections: list[Connection]) -> list[str]:
    """Everything in `connections` the tracer did not predict."""
    want = expected_outcome(agreement.verdict)
    problems = []
    failed = Counter(c.outcome for c in connections if c.outcome != (want or c.outcome))
    if failed:
        problems.append(f"{sum(failed.values())} of {len(connections)} connections {dict(failed)}"
                        f", not {want}")  # fmt: skip
    # "No retries" includes TCP's own: no SYN (or request) may have needed sending twice.
    resent = sum(1 for c in connections if c.retransmits)
    if resent:
        problems.append(f"{resent} connections needed a TCP retransmission")
    answered = [c for c in connections if c.outcome == "ok"]
    # Rules that decide nothing leave the destination alone: only a Pod at that very IP answers.
    if want is None and any(c.pod != agreement.pod_at_target for c in answered):
        problems.append(f"the tracer says {agreement.verdict}, yet a Pod behind it answered")
    strays = {c.pod for c in answered if c.pod not in agreement.expected}
    if want == "ok" and strays:
        problems.append(f"Pods the tracer never sends to answered: {sorted(strays)}")
    seen_as = agreement.seen_as
    wrong = Counter(
        (c.pod, c.client_ip) for c in answered if c.pod in seen_as and c.client_ip != seen_as[c.pod]
    )
    if wrong:
        problems.append(f"source addresses differ from the tracer's {seen_as}: {dict(wrong)}")
    if agreement.p_value < ALPHA:
        problems.append(f"distribution differs from the tracer's (p={agreement.p_value:.2g})")
    return problems
