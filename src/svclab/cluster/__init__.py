"""The control plane on virtual time: a store of objects, allocators, kubelet and controllers.

`Cluster` (`wiring`) wires them together; the parts (`clock`, `kubelet`, `allocators`, the
controllers `deployments` and `endpointslices`, `envvars`) never import the wiring.

>>> from svclab.cluster import Cluster
>>> Cluster(seed=0).get("Service", "default", "kubernetes").spec.cluster_ip
'10.96.0.1'
"""

from svclab.cluster.clock import EPOCH
from svclab.cluster.wiring import Cluster

__all__ = ["EPOCH", "Cluster"]
