"""Sentences of figure captions that depend on the data, computed from it so they stay true.

>>> from svclab.experiments import rolling_update
>>> r = rolling_update.run(clients=10, duration=60.0, groups=(
...     "dns-rr/resolve-once/new-conn", "clusterip/resolve-once/new-conn"))
>>> final_failures(r)
{'dns-rr/resolve-once/new-conn': 3650, 'clusterip/resolve-once/new-conn': 36}
>>> print(line_ends(r, "en"))
Where the lines end: ClusterIP 36 failed requests; DNS round-robin 3650.
"""

from __future__ import annotations

from svclab.experiments.words import VALUES
from svclab.report.result import Result, say


def final_failures(result: Result) -> dict[str, int]:
    """Failed requests at the end of a ``rolling-update`` run, per client-group label."""
    return {r.clients.label: int(r.failed.sum()) for r in result.data["traffic"]}


def line_ends(result: Result, lang: str) -> str:
    """Where the failure lines of a ``rolling-update`` figure end: the ClusterIP groups
    together (and whether they coincide), then the DNS round-robin ones."""
    ends = final_failures(result)
    vip = [n for label, n in ends.items() if label.startswith("clusterip/")]
    dns = [n for label, n in ends.items() if label.startswith("dns-rr/")]
    sep = "、" if lang == "zh_CN" else ", "
    parts = []
    if vip:
        same = len(vip) > 1 and len(set(vip)) == 1
        counts = str(vip[0]) if same else sep.join(map(str, vip))
        parts.append(
            say(
                {
                    "en": f"ClusterIP {counts} failed requests"
                    + (f" (all {len(vip)} lines end together)" if same else ""),
                    "zh_CN": f"ClusterIP 为 {counts} 个失败请求"
                    + (f"（{len(vip)} 条线终点相同）" if same else ""),
                },
                lang,
            )
        )
    if dns:
        counts = sep.join(map(str, dns))
        parts.append(
            f"{VALUES['dns-rr'][lang]} {counts}" if lang == "en" else f"DNS 轮询为 {counts} 个"
        )
    if lang == "zh_CN":
        return "各条线的终点：" + "；".join(parts) + "。"
    return "Where the lines end: " + "; ".join(parts) + "."
