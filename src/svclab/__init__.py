"""svclab: Kubernetes Services, observed by running code.

>>> import svclab
>>> svclab.KUBERNETES_VERSION
'1.35'
"""

KUBERNETES_VERSION = "1.35"
"""The Kubernetes minor version whose behaviour svclab follows."""

__version__ = "0.1.0"
