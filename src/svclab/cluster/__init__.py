"""The control plane on virtual time: a store of objects, allocators, kubelet and controllers.

`Cluster` wires them together; the controllers (`deployments`, `endpointslices`) and `envvars`
never import the wiring.

>>> from svclab.cluster import Cluster
>>> Cluster(seed=0).get("Service", "default", "kubernetes").spec.cluster_ip
'10.96.0.1'
"""

from svclab.cluster.clock import EPOCH
from svclab.cluster.wiring import Cluster

__all__ = ["EPOCH", "Cluster"]
