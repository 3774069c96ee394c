"""Cluster DNS: the spec's records, a real server on loopback, clients that cache like real ones."""
