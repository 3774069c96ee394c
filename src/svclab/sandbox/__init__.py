"""A teaching sandbox: svclab's in-process cluster served over the real Kubernetes REST API.

``kubectl`` and the official ``kubernetes`` client work against it unchanged, so code that
discovers endpoints (list, then watch EndpointSlices) runs on a laptop with no cluster and
later, with ``KUBECONFIG`` pointing elsewhere, on a real one.

What it serves
  Discovery (``/version``, ``/api``, ``/apis``, the ``v1``, ``apps/v1`` and
  ``discovery.k8s.io/v1`` resource lists) and the OpenAPI v3 paths kubectl checks before
  writing. Get, list and watch for Namespaces, Nodes, Pods, Services, EndpointSlices and
  Deployments; create, update (PUT), patch (JSON merge, strategic merge, JSON patch) and delete
  for Pods, Services, EndpointSlices and Deployments; create for Namespaces. Label and field
  selectors, resourceVersion semantics, 410 Expired for a watch older than the kept history,
  watch bookmarks, ``sendInitialEvents``, server-side Tables for ``kubectl get`` and Status
  errors with upstream's codes, reasons and wording. The cluster's virtual clock runs with real
  time (times a speed factor), so Pods start and rollouts progress while a client watches.

Its limits
  - No authentication or authorization: anyone who can connect is admin. It binds
    127.0.0.1 unless told otherwise; do not expose it.
  - Plain HTTP only (no TLS), HTTP/1.1 only, JSON only (no protobuf, CBOR or YAML answers).
  - No admission webhooks, no admission plugins beyond namespace existence, no quotas,
    no RBAC, no audit log, no aggregated APIs, no custom resources.
  - No persistence: the state lives in the process and is gone when it stops.
  - No server-side apply (415; ``kubectl apply`` without ``--server-side`` works), no dry run,
    no ``deletecollection``, no subresources (``status``, ``scale``, ``log``, ``exec``,
    ``portforward``), no pagination (``limit`` is ignored and whole lists come back), no
    graceful-deletion options (a Pod always terminates for its grace period).
  - Namespaces cannot be deleted; Pod specs cannot be changed after creation.
  - Watch history is a bounded number of events (default 1000), not a time window.
  - Bodies over 3 MiB are refused (413); a client that stalls for 30 s is disconnected; at most
    128 connections at once (429 beyond).
  - Only what svclab's cluster models exists: no ReplicaSet objects (Pods still name their
    ReplicaSet owner), no kubelet beyond Pod start, readiness and termination on virtual time.

>>> from svclab.sandbox import Sandbox, sandbox
>>> from kubernetes import client
>>> with sandbox(speed=0) as api:
...     [s.metadata.name for s in client.CoreV1Api(api).list_namespaced_service("default").items]
['kubernetes']
"""

from svclab.sandbox.server import Sandbox, sandbox

__all__ = ["Sandbox", "sandbox"]
