"""The real kernel data plane: svclab's rules in network namespaces, real traffic through them.

Needs root on Linux (`kernel_available` says why not; notebooks then fall back to the tracer).
Submodules: `topology` (namespaces, veths, Pod servers), `load` (iptables-restore / nft -f),
`drive` (connections), `observe` (counters, conntrack), `lab` (one whole run, as the CLI demo
prints it; `lab.observe` is what notebooks call), `simulate` (the same run drawn by the tracer
and sampler, where no kernel can run), `agreement` and `stats` (kernel vs tracer and sampler),
`cleanup` (leftovers of earlier runs). IPVS is not here: this kernel has no IPVS, so the lab keeps
IPVS simulated (`svclab render ipvs`).

>>> kernel_available()[1].endswith(".")
True
"""

from svclab.kernel.system import KernelError, KernelUnavailable, kernel_available, require_kernel

__all__ = ["KernelError", "KernelUnavailable", "kernel_available", "require_kernel"]
