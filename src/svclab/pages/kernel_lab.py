"""The kernel lab's one-line verdicts in the page's language.

>>> can_it_run(True, "en")
'Yes: this is root on Linux with ip, iptables-restore, nft and conntrack.'
>>> who_ran("tracer", "zh_CN")
'svclab 的追踪器和采样器（这里跑不了内核实验）'
"""

from __future__ import annotations

from svclab.kernel import kernel_available

RAN = {
    "kernel": {"en": "the real kernel", "zh_CN": "真实的内核"},
    "tracer": {
        "en": "svclab's tracer and sampler (no kernel lab here)",
        "zh_CN": "svclab 的追踪器和采样器（这里跑不了内核实验）",
    },
}
CAN = {
    True: {
        "en": "Yes: this is root on Linux with ip, iptables-restore, nft and conntrack.",
        "zh_CN": "可以：本机是 Linux，以 root 运行，装有 ip、iptables-restore、nft 和 conntrack。",
    },
    False: {
        "en": "No, the cells below use svclab's tracer instead: {why}",
        "zh_CN": "不能，下面的单元格改用 svclab 的追踪器（原因：{why}）",
    },
}


def who_ran(ran: str, lang: str) -> str:
    """Who opened the connections: ``kernel`` or ``tracer``, said in `lang`."""
    return RAN[ran][lang]


def can_it_run(available: bool, lang: str, why: str = "") -> str:
    """Whether the kernel lab can run here, in one sentence in `lang`."""
    return CAN[available][lang].format(why=why)


def verdict(lang: str) -> str:
    """`can_it_run` for this machine."""
    available, why = kernel_available()
    return can_it_run(available, lang, why)
