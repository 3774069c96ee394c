"""Rule-text plumbing that no backend owns: `iptables-restore` text and its parser
(`iptables`), the nft rule model and its parser (`nftables`)."""
