"""kube-proxy's IPVS mode (deprecated since 1.35), simulated: `render`, `sched` and `trace`."""
