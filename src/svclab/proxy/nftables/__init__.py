"""kube-proxy's nftables mode: `render` writes its `nft -f` transaction, `trace` runs it."""
