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

from svclab.api.state import ClusterState
from svclab.kernel.system import COMMAND_TIMEOUT, KernelError, run
from svclab.proxy import modes
from svclab.proxy.config import ProxyConfig

MODES = tuple(mode.name for mode in modes.kernel_modes())
"""The modes whose rules this kernel runs (`svclab.proxy.modes` says how each is loaded)."""


def _check(mode: str) -> None:
    if mode not in MODES:
        raise KernelError(
            f"mode {mode!r} cannot run in this kernel (it has no IPVS): use {' or '.join(MODES)}"
        )


def render(mode: str, state: ClusterState, config: ProxyConfig) -> str:
    """What ``svclab render <mode>`` prints for `state` and `config`."""
    _check(mode)
    return modes.render(mode, state, config)


def load(
    netns: str, mode: str, text: str, *, legacy: bool = False, timeout: float = COMMAND_TIMEOUT
) -> None:
    """Load rendered `text` of `mode` into namespace `netns` (never the host's)."""
    restore = restore_command(mode, legacy=legacy)
    prelude = modes.get(mode).prelude
    if prelude is not None:
        run(restore, stdin=prelude(), netns=netns)
    run(restore, stdin=text, netns=netns, timeout=timeout)


def restore_command(mode: str, *, legacy: bool = False) -> list[str]:
    """The command that loads `mode`'s text; `legacy` picks iptables' legacy (non-nf_tables) backend.

    >>> restore_command("iptables", legacy=True), restore_command("nftables")
    (['iptables-legacy-restore', '--noflush'], ['nft', '-f', '-'])
    """
    _check(mode)
    restore = list(modes.get(mode).restore)
    if legacy and restore[0] == "iptables-restore":
        restore[0] = "iptables-legacy-restore"
    return restore
