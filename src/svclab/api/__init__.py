"""Kubernetes API objects as svclab reads them: manifests, defaults, validation, object state.

The bottom layer above `svclab.errors`: `manifests` (YAML to the official client's objects),
`defaults` and `validation` (what the API server fills in and refuses), `state` (a snapshot of
objects), `reading` (manifests read as kube-proxy, kubelet and CoreDNS read objects) and
`addresses` (IP helpers).
"""
