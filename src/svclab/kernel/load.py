"""Load the rules `svclab render` prints, unchanged, into the node's network namespace.

iptables mode: kube-proxy's jumps from the built-in chains (which it ensures outside its restore
input) go in first, then `render`'s text, both with ``iptables-restore --noflush`` as kube-proxy
calls it (``iptables-restore`` is the nf_tables backend on Debian 12; `legacy` picks
``iptables-legacy-restore``). nftables mode: `render`'s transaction with ``nft -f``. IPVS has no
kernel here (this kernel lacks IPVS), so it stays simulated: ``svclab render ipvs`` and the tracer.

>>> MODES
('iptables', 'nftables')
>>> render("ipvs", None, None)
Traceback (most recent call last):
...
svclab.kernel.system.KernelError: mode 'ipvs' cannot run in this kernel (it has no IPVS): use ...
"""

from __future__ import annotations

import svclab.proxy.iptables.render as iptables
import svclab.proxy.nftables.render as nftables
from svclab.api.state import ClusterState
from svclab.kernel.system import COMMAND_TIMEOUT, KernelError, run
from svclab.proxy.config import ProxyConfig

MODES = ("iptables", "nftables")
_RENDERERS = {"iptables": iptables.render, "nftables": nftables.render}


def _check(mode: str) -> None:
    if mode not in MODES:
        raise KernelError(
            f"mode {mode!r} cannot run in this kernel (it has no IPVS): use iptables or nftables"
        )


def render(mode: str, state: ClusterState, config: ProxyConfig) -> str:
    """What ``svclab render <mode>`` prints for `state` and `config`."""
    _check(mode)
    return _RENDERERS[mode](state, config)


def load(
    netns: str, mode: str, text: str, *, legacy: bool = False, timeout: float = COMMAND_TIMEOUT
) -> None:
    """Load rendered `text` of `mode` into namespace `netns` (never the host's)."""
    _check(mode)
    if mode == "iptables":
        restore = ["iptables-legacy-restore" if legacy else "iptables-restore", "--noflush"]
        run(restore, stdin=iptables.jump_rules_restore(), netns=netns)
        run(restore, stdin=text, netns=netns, timeout=timeout)
    else:
        run(["nft", "-f", "-"], stdin=text, netns=netns, timeout=timeout)
