"""kube-proxy's iptables mode: `render` writes its rules, `trace` runs them on a packet."""
