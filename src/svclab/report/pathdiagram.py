"""Draw the path of one first packet through kube-proxy's rules, from a tracer's result.

Every packet-path diagram of the site comes from here: give it what a tracer returned
(`svclab.proxy.iptables.trace`, `svclab.proxy.nftables.trace` or `svclab.proxy.ipvs.trace`)
and it draws the chains the packet entered as boxes and the rules that matched as labelled
arrows. Nothing is drawn by hand: the boxes and arrows are read off the matched rules.

- A **hook** box is a chain nobody jumped to (a built-in iptables chain, an nftables base
  chain), met in the order netfilter runs them; dashed arrows join them.
- A **chain** box is a chain some matched rule jumped or went to; the arrow is labelled with
  what the rule matched (address and port, a probability, a set or map, ``ct new``…).
- An **endpoint** box is where a DNAT (or IPVS) sent the packet; a **verdict** box is a
  ``DROP``, ``REJECT``, ``ACCEPT`` or ``MASQUERADE`` that ended a walk.

>>> from svclab.proxy.config import ProxyConfig
>>> from svclab.proxy.nftables.trace import trace
>>> text = '''
... add table ip t
... add chain ip t pre { type nat hook prerouting priority -100 ; }
... add map ip t svc { type ipv4_addr . inet_proto . inet_service : verdict ; }
... add rule ip t pre ip daddr . meta l4proto . th dport vmap @svc
... add chain ip t lb
... add rule ip t lb numgen random mod 2 vmap { 0 : goto a , 1 : goto b }
... add chain ip t a
... add rule ip t a meta l4proto tcp dnat to 10.1.0.1:8080
... add chain ip t b
... add rule ip t b meta l4proto tcp dnat to 10.1.0.2:8080
... add element ip t svc { 10.96.0.1 . tcp . 80 : goto lb }
... '''
>>> result = trace(text, Packet("10.0.0.5", "10.96.0.1", 80), ProxyConfig(hostname_override="n"))
>>> graph = path_graph(result)
>>> [(node.kind, node.name) for node in graph.nodes]  # doctest: +NORMALIZE_WHITESPACE
[('hook', 'pre'), ('chain', 'lb'), ('chain', 'a'), ('endpoint', '10.1.0.1:8080'),
 ('chain', 'b'), ('endpoint', '10.1.0.2:8080')]
>>> [edge.label for edge in graph.edges]
['@svc', 'numgen 0/2', 'DNAT', 'numgen 1/2', 'DNAT']
>>> figure = path_figure(result, lang="zh_CN")
>>> figure.svg()[:5], "端点" in figure.svg()
('<?xml', True)
"""

from __future__ import annotations

import io
import re
import textwrap
from dataclasses import dataclass, field

import matplotlib
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch

from svclab.proxy.packet import Packet, TraceResult
from svclab.report.result import Text, drawing_rc, say

__all__ = ["Edge", "Node", "PathFigure", "PathGraph", "path_figure", "path_graph"]

KINDS = ("hook", "chain", "endpoint", "verdict")
"""Node kinds, in legend order."""

LEGEND: dict[str, Text] = {
    "hook": {"en": "netfilter hook (base chain)", "zh_CN": "netfilter 钩子（基础链）"},
    "chain": {"en": "kube-proxy chain", "zh_CN": "kube-proxy 链"},
    "endpoint": {"en": "endpoint after DNAT", "zh_CN": "DNAT 之后的端点"},
    "verdict": {"en": "verdict", "zh_CN": "判决"},
}
NEXT_HOOK: Text = {"en": "next hook", "zh_CN": "下一个钩子"}
IPVS_NODE: Text = {"en": "IPVS virtual server", "zh_CN": "IPVS 虚拟服务器"}
TITLE: Text = {
    "en": "First packet {src} → {dst}:{dport}: {verdict}",
    "zh_CN": "首个数据包 {src} → {dst}:{dport}：{verdict}",
}
COLOURS = {"hook": "#d9e2f3", "chain": "#fff2cc", "endpoint": "#d5e8d4", "verdict": "#f8cecc"}
VERDICTS = ("DROP", "REJECT", "ACCEPT", "MASQUERADE")
"""Targets drawn as a verdict box (RETURN, MARK and the like draw nothing)."""
WRAP = 30
"""Characters per line in a box; longer chain names wrap (nftables endpoint chains)."""
BOX_WIDTH = 2.0
"""Inches."""


@dataclass(frozen=True, slots=True)
class Node:
    """A box: a chain entered (keyed per hook, since tables reuse names), an endpoint or a verdict."""

    key: tuple[int, str, str]
    """(hook number, kind, name): a chain of the same name under another hook is another box."""
    kind: str
    name: str
    parent: tuple[int, str, str] | None = None


@dataclass(frozen=True, slots=True)
class Edge:
    """An arrow: the rule in `src` that sent the packet to `dst`, or a dashed hook-to-hook step."""

    src: tuple[int, str, str]
    dst: tuple[int, str, str]
    label: str
    dashed: bool = False


@dataclass
class PathGraph:
    """Boxes and arrows of one trace, in first-seen order (every outcome merged)."""

    packet: Packet
    verdict: str
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)

    def node(self, key: tuple[int, str, str], parent: tuple[int, str, str] | None) -> None:
        """Add the box `key` under `parent` unless it is there already."""
        if all(n.key != key for n in self.nodes):
            self.nodes.append(Node(key, key[1], key[2], parent))

    def edge(self, edge: Edge) -> None:
        """Add `edge` unless an identical one is there already."""
        if edge not in self.edges:
            self.edges.append(edge)

    def hooks(self) -> list[Node]:
        """The hook boxes, in the order the packet met them."""
        return [n for n in self.nodes if n.kind == "hook"]

    def children(self, key: tuple[int, str, str]) -> list[Node]:
        """The boxes directly under `key`."""
        return [n for n in self.nodes if n.parent == key]


@dataclass(frozen=True, slots=True)
class _Step:
    """One matched rule: its chain, what it matched (short) and where it sent the packet."""

    chain: str
    label: str
    jump: str | None = None
    """The chain it jumped or went to."""
    verdict: str | None = None
    """A terminal target (DNAT, DROP, REJECT, ACCEPT, MASQUERADE), if any."""
    destination: str | None = None


def path_graph(trace: TraceResult) -> PathGraph:
    """The boxes and arrows of `trace`: every outcome's matched rules, merged.

    For an IPVS trace an ``IPVS`` hook box sits between the filter INPUT hook and
    POSTROUTING, with one arrow per real server labelled with its share.
    """
    graph = PathGraph(trace.packet, trace.verdict)
    ipvs = trace.lookups > 0  # only the IPVS tracer counts hash lookups besides rules
    for outcome in trace.outcomes:
        steps = [_parse(rule) for rule in outcome.rules]
        if ipvs and outcome.destination:
            at = next((i for i, s in enumerate(steps) if s.chain == "POSTROUTING"), len(steps))
            share = f"p={outcome.probability:.2f}"
            steps.insert(at, _Step("IPVS", share, verdict="DNAT", destination=outcome.destination))
        _add_steps(graph, steps)
    return graph


def _add_steps(graph: PathGraph, steps: list[_Step]) -> None:
    hook = -1
    stack: list[tuple[int, str, str]] = []
    previous: tuple[int, str, str] | None = None
    for step in steps:
        names = [key[2] for key in stack]
        if step.chain in names:
            del stack[names.index(step.chain) + 1 :]
        else:
            hook += 1
            key = (hook, "hook", step.chain)
            graph.node(key, None)
            if previous is not None:
                graph.edge(Edge(previous, key, "", dashed=True))
            previous, stack = key, [key]
        here = stack[-1]
        if step.jump:
            target = (hook, "chain", step.jump)
            graph.node(target, here)
            graph.edge(Edge(here, target, step.label))
            stack.append(target)
        elif step.destination:
            target = (hook, "endpoint", step.destination)
            graph.node(target, here)
            graph.edge(Edge(here, target, step.label))
            stack = []
        elif step.verdict:
            target = (hook, "verdict", step.verdict)
            graph.node(target, here)
            graph.edge(Edge(here, target, step.label))
            stack = []


def _parse(rule: str) -> _Step:
    """A matched rule as the tracers print it: ``-A CHAIN …`` (iptables) or ``chain: …`` (nft).

    >>> _parse('-A KUBE-SVC-X -m statistic --mode random --probability 0.3333333333 -j KUBE-SEP-Y')
    _Step(chain='KUBE-SVC-X', label='p=0.33', jump='KUBE-SEP-Y', verdict=None, destination=None)
    >>> _parse("services: ip daddr . meta l4proto . th dport vmap @service-ips => goto svc-a").label
    '@service-ips'
    >>> _parse("endpoint-a: meta l4proto tcp dnat to 10.1.0.1:8080").destination
    '10.1.0.1:8080'
    """
    if rule.startswith("-A "):
        return _parse_iptables(rule)
    chain, _, body = rule.partition(": ")
    return _parse_nft(chain, body)


_IPT_MATCHES = (
    (re.compile(r"--probability (\S+)"), lambda m: f"p={float(m[1]):.2f}"),
    (re.compile(r"(?:^| )-d (\S+)(?=.*--dport (\d+))"), lambda m: f"{m[1]}:{m[2]}"),
    (re.compile(r"--match-set (\S+) (\S+)"), lambda m: f"set {m[1]}"),
    (re.compile(r"--dst-type (\S+)"), lambda m: f"dst {m[1]}"),
    (re.compile(r"--ctstate (\S+)"), lambda m: f"ct {m[1]}"),
    (re.compile(r"--mark (0x[0-9a-f]+)"), lambda m: f"mark {m[1]}"),
)


def _parse_iptables(rule: str) -> _Step:
    words = rule.split()
    chain = words[1]
    labels = [show(m) for pattern, show in _IPT_MATCHES if (m := pattern.search(rule))]
    label = ", ".join(labels)
    target = words[words.index("-j") + 1] if "-j" in words else None
    if target == "DNAT":
        destination = words[words.index("--to-destination") + 1]
        return _Step(chain, "DNAT", verdict="DNAT", destination=destination)
    if target in VERDICTS:
        return _Step(chain, label, verdict=target)
    if target is None or not target.startswith("KUBE-"):
        return _Step(chain, label)  # RETURN, MARK, …: the walk goes on in this chain
    return _Step(chain, label, jump=target)


_NFT_MATCHES = (
    (re.compile(r"vmap (@\S+)"), lambda m: m[1]),
    (re.compile(r"ip6? daddr (@\S+)"), lambda m: m[1]),
    (re.compile(r"ip6? daddr (\d[\d.:a-f/]*)"), lambda m: m[1]),
    (re.compile(r"ct state (\S+)"), lambda m: f"ct {m[1]}"),
    (re.compile(r"fib daddr type (\S+)"), lambda m: f"fib {m[1]}"),
)
_NFT_VERDICT = re.compile(r"\b(drop|reject|accept|masquerade)\b")


def _parse_nft(chain: str, body: str) -> _Step:
    rule, _, chosen = body.partition(" => ")
    if (m := re.search(r"dnat (?:ip )?to (\S+)", rule)) is not None:
        return _Step(chain, "DNAT", verdict="DNAT", destination=m[1])
    labels = [show(m) for pattern, show in _NFT_MATCHES if (m := pattern.search(rule))]
    if (jump := re.search(r"\b(?:jump|goto) (\S+)\s*$", chosen or rule)) is not None:
        numgen = re.search(r"numgen random mod (\d+)", rule)
        if numgen:
            index = re.search(rf"(\d+) : (?:goto|jump) {re.escape(jump[1])}\b", rule)
            labels = [f"numgen {index[1] if index else '?'}/{numgen[1]}"]
        return _Step(chain, ", ".join(labels), jump=jump[1])
    if (verdict := _NFT_VERDICT.search(chosen or rule)) is not None:
        return _Step(chain, ", ".join(labels), verdict=verdict[1].upper())
    return _Step(chain, ", ".join(labels))


class PathFigure(Figure):
    """A figure that notebooks (and MyST-NB's ``glue``) show as SVG."""

    def svg(self) -> str:
        """The figure as SVG text."""
        out = io.StringIO()
        with matplotlib.rc_context(drawing_rc() | {"svg.fonttype": "none"}):
            self.savefig(out, format="svg")
        return out.getvalue()

    def _repr_svg_(self) -> str:
        return self.svg()


def path_figure(trace: TraceResult, lang: str = "en", title: str | None = None) -> PathFigure:
    """The packet-path diagram of `trace`, labelled in `lang` (``en`` or ``zh_CN``).

    Hooks run down the left column in the order the packet met them; each chain a rule
    jumped to sits one column to the right of the chain that jumped.
    """
    graph = path_graph(trace)
    p = graph.packet
    heading = title or say(TITLE, lang).format(
        src=p.src, dst=p.dst, dport=p.dport, verdict=graph.verdict
    )
    where = _layout(graph)
    columns = 1 + max((x for x, _ in where.values()), default=0)
    rows = 1 + max((y for _, y in where.values()), default=0)
    width, height = 3.1, 0.42  # inches per column and row
    half = BOX_WIDTH / 2
    with matplotlib.rc_context(drawing_rc()):
        tall = rows * height + 0.7
        figure = PathFigure(figsize=(columns * width, tall))
        top = 1 - 0.6 / tall
        ax = figure.add_axes((0, 0, 1, top))
        ax.set_xlim(0, columns * width)
        ax.set_ylim(rows * height, 0)
        ax.axis("off")
        centre = {}
        for node in graph.nodes:
            x, y = where[node.key]
            cx, cy = x * width + half + 0.1, y * height + height / 2
            text = _box_text(node, lang)
            lines = text.count("\n") + 1
            ax.add_patch(
                FancyBboxPatch(
                    (cx - half, cy - 0.08 * lines),
                    BOX_WIDTH,
                    0.16 * lines,
                    boxstyle="round,pad=0.02",
                    facecolor=COLOURS[node.kind],
                    edgecolor="#555555",
                    linewidth=0.8,
                )
            )
            ax.text(cx, cy, text, ha="center", va="center", fontsize=7, linespacing=1.1)
            centre[node.key] = (cx, cy)
        line = {"color": "#333333", "linewidth": 0.8}
        for edge in graph.edges:
            (x0, y0), (x1, y1) = centre[edge.src], centre[edge.dst]
            if edge.dashed:  # hook to hook, down the left column
                start, end = (x0, y0 + 0.1), (x1, y1 - 0.1)
                label, at = say(NEXT_HOOK, lang), (x0 + 0.08, (y0 + y1) / 2, "left")
            else:  # right side of the parent, down the gap, into the child's left side
                bus = x0 + half + 0.15
                ax.plot([x0 + half, bus, bus], [y0, y0, y1], **line)
                start, end = (bus, y1), (x1 - half - 0.03, y1)
                label, at = edge.label, (bus + 0.04, y1 - 0.04, "left")
            ax.add_patch(
                FancyArrowPatch(
                    start,
                    end,
                    arrowstyle="-|>",
                    mutation_scale=7,
                    linestyle="--" if edge.dashed else "-",
                    **line,
                )
            )
            if label:
                ax.text(
                    at[0],
                    at[1],
                    label,
                    fontsize=6,
                    ha=at[2],
                    va="bottom" if not edge.dashed else "center",
                    color="#1f3864",
                )
        figure.suptitle(heading, fontsize=9, y=1 - 0.04 / tall, va="top")
        figure.legend(
            handles=[
                Patch(facecolor=COLOURS[k], edgecolor="#555555", label=say(LEGEND[k], lang))
                for k in KINDS
                if any(n.kind == k for n in graph.nodes)
            ],
            loc="upper center",
            bbox_to_anchor=(0.5, 1 - 0.25 / tall),
            ncols=4,
            fontsize=6.5,
            frameon=False,
        )
    return figure


def _box_text(node: Node, lang: str) -> str:
    if node.kind == "hook" and node.name == "IPVS":
        return say(IPVS_NODE, lang)
    return "\n".join(textwrap.wrap(node.name, WRAP, break_on_hyphens=False)) or node.name


def _layout(graph: PathGraph) -> dict[tuple[int, str, str], tuple[int, int]]:
    """Column (depth under its hook) and row of every box: each subtree gets a band of rows."""
    where: dict[tuple[int, str, str], tuple[int, int]] = {}
    row = 0

    def place(node: Node, depth: int) -> None:
        nonlocal row
        where[node.key] = (depth, row)
        children = graph.children(node.key)
        for i, child in enumerate(children):
            if i:
                row += 1
            place(child, depth + 1)

    for hook in graph.hooks():
        place(hook, 0)
        row += 1
    return where
