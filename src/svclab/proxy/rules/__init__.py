"""Rule-text plumbing that no backend owns: `iptables-restore` text and its parser."""
