"""The CLI reference in Chinese: every option of a ``svclab`` command explained beside the
English ``--help`` text that the page prints.

>>> next(row for row in options("dns", "serve", lang="zh_CN").cells if row[0] == "--ttl")
['--ttl', '记录的 TTL，单位为秒，取值 0 到 3600（默认 5，与 CoreDNS 相同）']
>>> options("dns", "serve", lang="en") is None
True
"""

from __future__ import annotations

import argparse

from svclab.cli import build_parser
from svclab.experiments import names
from svclab.pages.tables import Table

MANIFESTS = " YAML 或 JSON 清单文件或目录，可重复给出"
NODE = {
    "--hostname-override": "节点名：nodeName 等于它的端点算作本地端点（默认：本机主机名）",
    "--node-ip": "节点的地址（addrtype LOCAL，接收 NodePort）；可重复，第一个是主地址",
    "--cluster-cidr": "ClusterCIDR 本地流量检测器使用的 Pod CIDR（默认：不检测）",
    "--masquerade-all": "对所有发往集群 IP 的流量做 SNAT",
    "--masquerade-bit": "标记需要 SNAT 的包所用的 fwmark 位（默认 14，即 0x00004000）",
    "--masquerade-mark": "原样给出标记字符串，例如上游测试中写的 0x4000",
    "--nodeport-addresses": "哪些 CIDR（或 primary）内的节点地址接收 NodePort；可重复，也可用逗号分隔",
    "--service-cidr": "Service CIDR（nftables 模式）；可重复，也可用逗号分隔",
    "--no-random-fully": "iptables 不支持 --random-fully",
    "--no-localhost-nodeports": "相当于 --iptables-localhost-nodeports=false",
    "--nfacct": "内核支持 nfacct 计数器（像上游测试那样加上 kube-proxy 的 -m nfacct 规则）",
}
ZH: dict[str, str] = {
    "--version": "打印版本号后退出",
    "envvars -f": "Service（以及 Pod）的" + MANIFESTS,
    "envvars --namespace": "Pod 所在的名字空间",
    "envvars --no-service-links": "相当于 enableServiceLinks: false（只剩 default/kubernetes）",
    "envvars --pod": "使用清单中的这个 Pod（它的 env、启动时间和 Service 链接设置）",
    "envvars --container": "与 --pod 一起用：容器名（默认第一个容器）",
    "dns serve -f": "Service、EndpointSlice 和 Pod 的" + MANIFESTS,
    "dns serve --listen": "UDP 和 TCP 的监听地址（端口 0 表示任选一个空闲端口）",
    "dns serve --zone": "集群域名（默认 cluster.local）",
    "dns serve --ttl": "记录的 TTL，单位为秒，取值 0 到 3600（默认 5，与 CoreDNS 相同）",
    "dns serve --upstream": "其他名字和 ExternalName 目标交给这台服务器（默认：没有）",
    "dns serve --uvloop": "在 uvloop 上运行（需要 svclab[fast]）",
    "dns query name": "要查询的名字",
    "dns query type": "记录类型（默认 A）",
    "dns query --server": "DNS 服务器的地址和端口",
    "dns query --tcp": "通过 TCP 查询（默认 UDP，应答被截断时改用 TCP）",
    "dns query --timeout": "超时，单位为秒",
    "mode": "kube-proxy 模式",
    "-f": "Service 和 EndpointSlice 的" + MANIFESTS,
    **NODE,
    "render --ipvs-scheduler": "IPVS 调度算法（ipvs 模式；默认 rr，与 kube-proxy 相同）",
    "trace --src": "源地址",
    "trace --dst": "目的地址",
    "trace --dport": "目的端口",
    "trace --proto": "协议（默认 tcp）",
    "trace --source": "包从哪里出发（默认：根据 --node-ip 和 --cluster-cidr 推断）",
    "kernel demo --mode": "kube-proxy 模式（IPVS 只能模拟：这个内核实验不用 IPVS）",
    "kernel demo --connections": "每个 Service 地址发起的连接数（默认 100）",
    "kernel demo --from": "连接从哪里发起（默认 client，即节点之外）",
    "kernel demo --timeout": "连接超时；被 DROP 的 SYN 表现为超时（默认 1 秒）",
    "kernel cleanup --all": "连进程仍在运行的那些实验的名字空间也一并删除",
    "sandbox up -f": "启动后先创建这些对象：" + MANIFESTS.strip(),
    "sandbox up --address": "绑定的地址（默认只绑定回环地址）",
    "sandbox up --port": "绑定的端口（默认任选一个空闲端口）",
    "sandbox up --kubeconfig": "kubeconfig 写到哪里（默认 RUN_DIR/kubeconfig）",
    "sandbox up --speed": "每个真实秒对应多少虚拟秒（0 表示时钟停止）",
    "sandbox up --seed": "生成名字和分配 IP 所用的随机种子",
    "sandbox up --nodes": "节点数",
    "sandbox up --service-cidr": "Service CIDR",
    "sandbox up --detach": "在后台运行（用 svclab sandbox down 停止）",
    "sandbox up --run-dir": "存放 pid 文件、日志和 kubeconfig 的目录",
    "sandbox down --run-dir": "sandbox up 用过的那个目录",
    "experiment --list": "列出所有实验后退出",
    "experiment --lang": "图的语言",
    "experiment --figure": "把图保存到文件（png、svg 或 pdf）",
    "experiment --real": "用回环地址上真实的服务器和套接字来跑（规模要小）",
    "experiment --seed": "随机种子",
}
"""Chinese explanations, most specific first: ``"<command> <option>"``, then the option alone."""


def _explain(words: tuple[str, ...], action: argparse.Action) -> str:
    flag = action.option_strings[0] if action.option_strings else action.dest
    command = " ".join(words)
    for key in (f"{command} {flag}", f"{words[0]} {flag}" if words else flag, flag):
        if key in ZH:
            return ZH[key]
    # an experiment's own parameters: the keyword argument of its run() of the same name
    default = action.default
    if isinstance(default, tuple):
        default = " ".join(map(str, default)) or "无"
    return f"实验 run() 的同名参数 {action.dest}（默认 {default}）"


def _parser(words: tuple[str, ...]) -> argparse.ArgumentParser:
    parser = build_parser()
    for word in words:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[word]
    return parser


def options(*words: str, lang: str) -> Table | None:
    """The options of ``svclab WORDS…`` with a Chinese explanation each; None on an English
    page, where the printed ``--help`` already explains them."""
    if lang != "zh_CN":
        return None
    actions = [
        a
        for a in _parser(words)._actions
        if not isinstance(a, argparse._HelpAction | argparse._SubParsersAction)
    ]
    return Table(
        ["选项", "说明"],
        [["、".join(a.option_strings) or a.dest, _explain(words, a)] for a in actions],
    )


def experiment_options(lang: str) -> Table | None:
    """`options` of every ``svclab experiment NAME``, in one table with the experiment's name."""
    if lang != "zh_CN":
        return None
    rows = [
        [name, *row] for name in names() for row in options("experiment", name, lang=lang).cells
    ]
    return Table(["实验", "选项", "说明"], rows)
