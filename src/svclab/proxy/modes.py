"""The one list of kube-proxy modes svclab models: each mode's renderer, tracer and loader.

Adding or removing a mode (IPVS is deprecated and will go) is a change to `MODES` alone: the
CLI (`svclab render`, `svclab trace`, `svclab kernel`), the cost model, the sampler, the kernel
lab and the benchmarks all read it. This is the only module that imports every backend; the
backends never import each other.

>>> names()
('iptables', 'nftables', 'ipvs')
>>> [mode.name for mode in kernel_modes()]
['iptables', 'nftables']
>>> "deprecated" in get("ipvs").deprecated
True
>>> get("userspace")
Traceback (most recent call last):
...
svclab.errors.SvclabError: unknown proxy mode 'userspace'; choose from iptables, nftables, ipvs
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import svclab.proxy.iptables.render as iptables
import svclab.proxy.ipvs.render as ipvs
import svclab.proxy.ipvs.trace as ipvs_trace
import svclab.proxy.nftables.render as nftables
from svclab.api.state import ClusterState
from svclab.errors import SvclabError
from svclab.proxy.config import ProxyConfig
from svclab.proxy.iptables.trace import IPTablesTracer
from svclab.proxy.nftables.trace import NFTablesTracer
from svclab.proxy.packet import Packet, SourceKind, Tracer, TraceResult

Renderer = Callable[..., str]
"""``render(state, config, **options)``: the rule text kube-proxy would write."""


@dataclass(frozen=True)
class Mode:
    """One kube-proxy mode: how its rules are written, read, measured and loaded."""

    name: str
    render: Renderer
    tracer: Callable[[str, ProxyConfig], Tracer]
    """``tracer(text, config)``: the rendered text, parsed once, ready to trace packets."""
    rule_set_size: Callable[[str, ProxyConfig], tuple[int, int]]
    """``(rules, elements)`` the kernel holds for rendered text (elements: set members etc.)."""
    options: tuple[str, ...] = ()
    """Keyword options `render` takes beyond state and config (IPVS: its scheduler)."""
    restore: tuple[str, ...] = ()
    """The command that loads the rendered text from stdin into a kernel; () if simulated only."""
    prelude: Callable[[], str] | None = None
    """Text loaded with `restore` before the rendered text (rules kube-proxy keeps outside it)."""
    deprecated: str = ""
    """What kube-proxy logs when the mode is chosen, if it is deprecated."""


MODES = (
    Mode(
        "iptables",
        iptables.render,
        IPTablesTracer,
        iptables.rule_set_size,
        restore=("iptables-restore", "--noflush"),
        prelude=iptables.jump_rules_restore,
    ),
    Mode(
        "nftables",
        nftables.render,
        NFTablesTracer,
        nftables.rule_set_size,
        restore=("nft", "-f", "-"),
    ),
    Mode(
        "ipvs",
        ipvs.render,
        ipvs_trace.IPVSTracer,
        ipvs_trace.rule_set_size,
        options=("scheduler",),
        deprecated=ipvs.DEPRECATION,
    ),
)
"""Every mode, in the order the site and the CLI list them."""

_BY_NAME = {mode.name: mode for mode in MODES}


def names() -> tuple[str, ...]:
    """The modes' names, in order."""
    return tuple(_BY_NAME)


def get(name: str) -> Mode:
    """The mode called `name`; an unknown name is a `SvclabError` listing the choices."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise SvclabError(
            f"unknown proxy mode {name!r}; choose from {', '.join(_BY_NAME)}"
        ) from None


def kernel_modes() -> tuple[Mode, ...]:
    """The modes whose rules load into this machine's kernel (IPVS has none here)."""
    return tuple(mode for mode in MODES if mode.restore)


def render(name: str, state: ClusterState, config: ProxyConfig, **options: str) -> str:
    """What kube-proxy in mode `name` writes for `state` (options it does not take are refused)."""
    mode = get(name)
    unknown = sorted(set(options) - set(mode.options))
    if unknown:
        raise SvclabError(f"{name} mode takes no option {unknown[0]!r}")
    return mode.render(state, config, **options)


def trace(
    name: str, text: str, packet: Packet, config: ProxyConfig, source: SourceKind | None = None
) -> TraceResult:
    """`packet` traced through `text` rendered in mode `name`."""
    return get(name).tracer(text, config).trace(packet, source)
