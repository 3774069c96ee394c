"""What a reader sees instead of a column id or a value id: table headers with their units,
cell values and client-group names, in each of the site's languages.

>>> header("failed_after_settle", "en")
'failed after endpoints updated'
>>> header("recover_s", "zh_CN")
'恢复用时（秒）'
>>> value(float("inf"), "recover_s", "zh_CN"), value(float("nan"), "load_max_min", "en")
('从未恢复', '—')
>>> group_name("dns-rr/honour-ttl/new-conn", "zh_CN")
'DNS 轮询，遵守 TTL，每个请求新建连接'
"""

from __future__ import annotations

import math
from typing import Any

from svclab.experiments.ndots import FIXES

HEADERS: dict[str, dict[str, str]] = {
    "discovery": {"en": "discovery", "zh_CN": "发现方式"},
    "resolver": {"en": "resolver", "zh_CN": "解析器"},
    "reuse": {"en": "keep-alive", "zh_CN": "复用连接"},
    "requests": {"en": "requests", "zh_CN": "请求数"},
    "failed": {"en": "failed", "zh_CN": "失败数"},
    "failed_pct": {"en": "failed (%)", "zh_CN": "失败比例（%）"},
    "failed_after_settle": {"en": "failed after endpoints updated", "zh_CN": "端点更新后失败数"},
    "failed_pct_after_settle": {
        "en": "failed after endpoints updated (%)",
        "zh_CN": "端点更新后失败比例（%）",
    },
    "to_gone_pods": {"en": "attempts to gone Pods", "zh_CN": "发往已消失 Pod 的尝试"},
    "recover_s": {"en": "recovered after (s)", "zh_CN": "恢复用时（秒）"},
    "load_max_min": {"en": "busiest ÷ idlest Pod", "zh_CN": "最忙 ÷ 最闲 Pod"},
    "dns_queries": {"en": "DNS queries", "zh_CN": "DNS 查询数"},
    "ttl": {"en": "TTL (s)", "zh_CN": "TTL（秒）"},
    "clients": {"en": "clients", "zh_CN": "客户端"},
    "qps_direct": {"en": "queries/s, direct", "zh_CN": "每秒查询数（直连）"},
    "qps_node_cache": {"en": "queries/s, node-local cache", "zh_CN": "每秒查询数（节点本地缓存）"},
    "qps_direct_real": {"en": "queries/s, direct (real)", "zh_CN": "每秒查询数（直连，实测）"},
    "qps_node_cache_real": {
        "en": "queries/s, node-local cache (real)",
        "zh_CN": "每秒查询数（节点本地缓存，实测）",
    },
    "pod": {"en": "Pod", "zh_CN": "Pod"},
    "ip": {"en": "IP", "zh_CN": "IP"},
    "address": {"en": "address", "zh_CN": "地址"},
    "node": {"en": "node", "zh_CN": "节点"},
    "ready": {"en": "ready", "zh_CN": "就绪"},
    "serving": {"en": "serving", "zh_CN": "服务中"},
    "terminating": {"en": "terminating", "zh_CN": "终止中"},
    "slice": {"en": "EndpointSlice", "zh_CN": "EndpointSlice"},
    "ready_s": {"en": "ready at (s)", "zh_CN": "就绪时刻（秒）"},
    "gone_s": {"en": "gone at (s)", "zh_CN": "消失时刻（秒）"},
    "share_after_settle_pct": {
        "en": "share after endpoints updated (%)",
        "zh_CN": "端点更新后所占份额（%）",
    },
    "t (s)": {"en": "t (s)", "zh_CN": "时刻（秒）"},
    "client": {"en": "client", "zh_CN": "客户端"},
    "from": {"en": "answered from", "zh_CN": "答案来源"},
    "addresses": {"en": "addresses", "zh_CN": "地址"},
    "all alive": {"en": "all alive", "zh_CN": "全部存活"},
    "answer": {"en": "answer", "zh_CN": "应答"},
    "path": {"en": "path", "zh_CN": "路径"},
    "lookups": {"en": "lookups", "zh_CN": "查找次数"},
    "reached cluster DNS": {"en": "reached cluster DNS", "zh_CN": "到达集群 DNS 的查询"},
    "gone": {"en": "gone", "zh_CN": "已消失"},
    "hostname": {"en": "hostname", "zh_CN": "主机名"},
    "subdomain": {"en": "subdomain", "zh_CN": "子域"},
    "name": {"en": "name", "zh_CN": "名称"},
    "dots": {"en": "dots", "zh_CN": "点数"},
    "queries": {"en": "queries", "zh_CN": "查询数"},
    "answered as": {"en": "answered as", "zh_CN": "应答的名称"},
    "fix": {"en": "fix", "zh_CN": "修正方法"},
    "nxdomain_first": {"en": "NXDOMAIN before the answer", "zh_CN": "应答前的 NXDOMAIN 数"},
    "first_query": {"en": "first query", "zh_CN": "第一个查询"},
    "experiment": {"en": "experiment", "zh_CN": "实验"},
    "live": {"en": "live server", "zh_CN": "真实服务器"},
    "type": {"en": "type", "zh_CN": "类型"},
    "rcode": {"en": "rcode", "zh_CN": "响应码"},
    "#": {"en": "#", "zh_CN": "#"},
    "SERVICE": {"en": "SERVICE", "zh_CN": "Service"},
    "TYPE": {"en": "TYPE", "zh_CN": "类型"},
    "EXTERNAL POLICY": {"en": "EXTERNAL POLICY", "zh_CN": "外部流量策略"},
    "AFFINITY": {"en": "AFFINITY", "zh_CN": "会话亲和性"},
    "NAMESPACE": {"en": "NAMESPACE", "zh_CN": "网络名字空间"},
    "ADDRESS": {"en": "ADDRESS", "zh_CN": "地址"},
    "SERVES": {"en": "SERVES", "zh_CN": "用途"},
    "POD": {"en": "POD", "zh_CN": "Pod"},
    "CLIENT SEEN": {"en": "CLIENT SEEN", "zh_CN": "Pod 看到的客户端"},
    "CONNECTIONS": {"en": "CONNECTIONS", "zh_CN": "连接数"},
    "PACKETS": {"en": "PACKETS", "zh_CN": "包数"},
    "RULE": {"en": "RULE", "zh_CN": "规则"},
    "ORIGINAL": {"en": "ORIGINAL", "zh_CN": "原始连接"},
    "DNAT TO": {"en": "DNAT TO", "zh_CN": "DNAT 目标"},
    "SNAT TO": {"en": "SNAT TO", "zh_CN": "SNAT 目标"},
    "STATE": {"en": "STATE", "zh_CN": "状态"},
}
"""Column id → header, with the unit in parentheses."""

VALUES: dict[str, dict[str, str]] = {
    "dns-rr": {"en": "DNS round-robin", "zh_CN": "DNS 轮询"},
    "clusterip": {"en": "ClusterIP", "zh_CN": "ClusterIP"},
    "honour-ttl": {"en": "honours the TTL", "zh_CN": "遵守 TTL"},
    "ignore-ttl": {"en": "ignores the TTL", "zh_CN": "忽略 TTL"},
    "resolve-once": {"en": "resolves once", "zh_CN": "只解析一次"},
    "new-conn": {"en": "new connection per request", "zh_CN": "每个请求新建连接"},
    "reuse": {"en": "keep-alive", "zh_CN": "保持连接"},
    "dig": {"en": "dig", "zh_CN": "dig"},
    "cache": {"en": "cache", "zh_CN": "缓存"},
    "server": {"en": "server", "zh_CN": "服务器"},
    "network": {"en": "network", "zh_CN": "网络"},
    "Pod -> cluster DNS": {"en": "Pod → cluster DNS", "zh_CN": "Pod → 集群 DNS"},
    "Pod -> node-local cache -> cluster DNS": {
        "en": "Pod → node-local cache → cluster DNS",
        "zh_CN": "Pod → 节点本地缓存 → 集群 DNS",
    },
}
VALUES |= FIXES
"""Value id → what the reader reads (the ndots fixes and the API-discovery client groups
are named where they are defined)."""

NEVER = {"en": "never", "zh_CN": "从未恢复"}
NONE = "—"
YES_NO = {True: {"en": "yes", "zh_CN": "是"}, False: {"en": "no", "zh_CN": "否"}}


def header(column: str, lang: str) -> str:
    """The header of `column` in `lang` (an unknown column keeps its id)."""
    return HEADERS.get(column, {}).get(lang, column)


def number(x: float, lang: str) -> str:
    """A float rounded for reading, without a useless ``.0``.

    >>> number(2.0, "zh_CN"), number(0.123456, "en"), number(123456.7, "en")
    ('2', '0.1235', '123457')
    """
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.4g}" if abs(x) < 1e4 else f"{x:.0f}"


def value(x: Any, column: str, lang: str) -> str:
    """The cell for `x` in `column`: ``inf`` (a group that never recovered) reads "never",
    ``nan`` (nothing to measure) a dash, booleans yes/no, ids their names."""
    if isinstance(x, bool):
        return YES_NO[x][lang]
    if isinstance(x, float):
        if math.isnan(x):
            return NONE
        if math.isinf(x):
            return NEVER[lang] if column == "recover_s" else ("∞" if x > 0 else "−∞")
        return number(x, lang)
    if isinstance(x, str) and x in VALUES:
        return VALUES[x][lang]
    if isinstance(x, str) and "/" in x and all(part in VALUES for part in x.split("/")):
        return group_name(x, lang)
    return str(x)


def group_name(label: str, lang: str) -> str:
    """A client group's name from its label ``discovery/resolver/connection``."""
    comma = "，" if lang == "zh_CN" else ", "
    return comma.join(VALUES[part][lang] for part in label.split("/"))
