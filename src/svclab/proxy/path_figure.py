"""A diagram of a traced first packet: from the client, through kube-proxy's chains, to the Pods.

>>> from svclab.proxy.packet import Outcome, Packet, SourceKind, TraceResult
>>> rules = ("-A KUBE-SERVICES -j KUBE-NODEPORTS", "-A KUBE-NODEPORTS -j KUBE-EXT-X")
>>> result = TraceResult(Packet("198.51.100.7", "172.18.0.2", 30080), SourceKind.EXTERNAL,
...                      (Outcome("DNAT", 1.0, "10.244.0.2:8080", True, rules),), rules)
>>> path_chains(result)
['KUBE-SERVICES', 'KUBE-NODEPORTS']
>>> fig = path_figure(result, "zh_CN")
>>> "10.244.0.2:8080" in figure_texts(fig), "客户端 198.51.100.7" in figure_texts(fig)
(True, True)
"""

from __future__ import annotations

import matplotlib
from matplotlib.figure import Figure

from svclab.report.result import ResultFigure, drawing_rc, say
from svclab.proxy.packet import TraceResult

_TEXT = {
    "client": {"en": "client {src}", "zh_CN": "客户端 {src}"},
    "arrives": {"en": "arrives at {dst}:{port}", "zh_CN": "到达 {dst}:{port}"},
    "pod": {"en": "Pod {dest}\np = {p:.2f}", "zh_CN": "Pod {dest}\n概率 {p:.2f}"},
    "masq": {
        "en": "masquerade: the Pod sees the node's address",
        "zh_CN": "伪装（SNAT）：Pod 看到的源地址是节点地址",
    },
    "no_masq": {
        "en": "no masquerade: the Pod sees {src}",
        "zh_CN": "不伪装：Pod 看到的源地址是 {src}",
    },
    "verdict": {"en": "verdict: {verdict}", "zh_CN": "结果：{verdict}"},
    "title": {
        "en": "First packet {src} → {dst}:{port}, through kube-proxy's rules",
        "zh_CN": "首个数据包 {src} → {dst}:{port} 经过的 kube-proxy 规则",
    },
}


_ENDPOINT_CHAINS = ("KUBE-SEP-", "endpoint-")


def path_chains(result: TraceResult) -> list[str]:
    """The chains the first branch of `result` walks, in order, each once, without the
    per-endpoint chains (the branches end in the Pods the figure draws).

    iptables rules start with ``-A CHAIN``; the nftables tracer writes ``chain: rule``.
    """
    rules = result.outcomes[0].rules if result.outcomes else result.rules
    chains = [
        rule.split()[1] if rule.startswith("-A ") else rule.split(":", 1)[0] for rule in rules
    ]
    return [c for c in dict.fromkeys(chains) if not c.startswith(_ENDPOINT_CHAINS)]


def path_figure(trace: TraceResult, lang: str) -> Figure:
    """The path of `trace`'s first packet as a top-to-bottom diagram, labelled in `lang`."""
    p = trace.packet
    chains = path_chains(trace)
    destinations = trace.destinations
    steps = [
        say(_TEXT["client"], lang).format(src=p.src),
        say(_TEXT["arrives"], lang).format(dst=p.dst, port=p.dport),
        *chains,
    ]
    with matplotlib.rc_context(drawing_rc()):
        fig = ResultFigure(figsize=(8, 0.55 * (len(steps) + 3)), layout="constrained")
        ax = fig.add_subplot()
        ax.set_axis_off()
        rows = len(steps) + 2
        ax.set_xlim(0, 1)
        ax.set_ylim(-0.5, rows - 0.5)
        box = {"boxstyle": "round,pad=0.3", "facecolor": "#eef3fb", "edgecolor": "#4c72b0"}
        for i, text in enumerate(steps):
            y = rows - 1 - i
            style = box if i >= 2 else {**box, "facecolor": "#fdf1e3", "edgecolor": "#dd8452"}
            ax.text(0.5, y, text, ha="center", va="center", fontsize=9, bbox=style)
            if i:
                _arrow(ax, 0.5, y + 1, 0.5, y)
        pod_y = 0.5
        if destinations:
            xs = [(k + 1) / (len(destinations) + 1) for k in range(len(destinations))]
            for x, (dest, prob) in zip(xs, destinations.items(), strict=True):
                label = say(_TEXT["pod"], lang).format(dest=dest, p=prob)
                green = {**box, "facecolor": "#e8f4ea", "edgecolor": "#55a868"}
                ax.text(x, pod_y, label, ha="center", va="center", fontsize=9, bbox=green)
                _arrow(ax, 0.5, rows - len(steps), x, pod_y)
            note = say(_TEXT["masq"] if trace.masquerade else _TEXT["no_masq"], lang)
        else:
            note = say(_TEXT["verdict"], lang)
        ax.text(
            0.5,
            -0.35,
            note.format(src=p.src, verdict=trace.verdict),
            ha="center",
            va="center",
            fontsize=9,
            style="italic",
        )
        fig.suptitle(say(_TEXT["title"], lang).format(src=p.src, dst=p.dst, port=p.dport))
    return fig


def _arrow(ax: object, x0: float, y0: float, x1: float, y1: float) -> None:
    ax.annotate(  # type: ignore[attr-defined]
        "",
        xy=(x1, y1 + 0.3),
        xytext=(x0, y0 - 0.3),
        arrowprops={"arrowstyle": "->", "color": "#555555"},
    )


def figure_texts(fig: Figure) -> str:
    """Every text drawn in `fig`, one per line (for tests and captions)."""
    texts = [fig.get_suptitle()] if hasattr(fig, "get_suptitle") else []
    for ax in fig.axes:
        texts += [t.get_text() for t in ax.texts]
    return "\n".join(texts)
