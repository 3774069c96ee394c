"""kube-proxy's data planes: the Service map it builds, the rules it writes, and tracers that run them.

Shared by every mode: `svclab.proxy.config` (the flags), `svclab.proxy.servicemap` (Services and
EndpointSlices as kube-proxy sees them) and `svclab.proxy.packet` (packets and trace results).
"""
