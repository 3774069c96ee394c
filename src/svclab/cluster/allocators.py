"""ClusterIP and NodePort allocators with the static/dynamic band split (KEP-3070, KEP-3668).

Dynamic allocation picks a random free value in the upper (dynamic) band first and falls
back to the lower (static) band only when the upper band is full, so values that users pick
by hand from the static band rarely collide with allocated ones.

>>> ips = ClusterIPAllocator("10.96.0.0/24", seed=1)
>>> ips.offset, ips.static_band
(16, ('10.96.0.1', '10.96.0.16'))
>>> ip = ips.allocate()
>>> ips.in_static_band(ip)
False
>>> ips.allocate("10.96.0.10")
'10.96.0.10'
>>> ips.allocate("10.96.0.10")
Traceback (most recent call last):
...
svclab.cluster.allocators.AllocationError: provided IP is already allocated
>>> ports = NodePortAllocator("30000-32767", seed=1)
>>> ports.offset, ports.static_band
(86, (30000, 30085))
"""

from __future__ import annotations

import ipaddress
import itertools
import random

from svclab.errors import SvclabError


class AllocationError(SvclabError):
    """An explicit request that cannot be granted, or a full range (upstream's wording)."""


def cluster_ip_offset(cidr_size: int) -> int:
    """Size of the static band of a service CIDR with ``cidr_size`` addresses (KEP-3070).

    ``min(max(16, size/16), 256)``, and 0 for ranges of 16 addresses or fewer; the values of
    upstream's ``TestCalculateRangeOffset`` (ipallocator ``bitmap_test.go``):

    >>> [cluster_ip_offset(2 ** (32 - p)) for p in (27, 28, 22, 8)]
    [16, 0, 64, 256]
    >>> [cluster_ip_offset(2 ** (128 - p)) for p in (122, 118)]
    [16, 64]
    """
    return _band_offset(cidr_size, step=16, maximum=256)


def node_port_offset(range_size: int) -> int:
    """Size of the static band of a NodePort range of ``range_size`` ports (KEP-3668).

    ``min(max(16, size/32), 128)``, and 0 for 16 ports or fewer; the values of upstream's
    ``TestCalculateRangeOffset`` (portallocator ``allocator_test.go``):

    >>> [node_port_offset(n) for n in (2768, 128, 2048, 4096, 16)]
    [86, 16, 64, 128, 0]
    """
    return _band_offset(range_size, step=32, maximum=128)


def _band_offset(size: int, *, step: int, maximum: int, minimum: int = 16) -> int:
    if size <= minimum:
        return 0
    return min(max(minimum, size // step), maximum)


def parse_port_range(text: str) -> tuple[int, int]:
    """Parse ``--service-node-port-range`` (``first-last`` or ``first+size``).

    >>> parse_port_range("30000-32767"), parse_port_range("30000+100")
    ((30000, 32767), (30000, 30099))
    >>> parse_port_range("32767-30000")
    Traceback (most recent call last):
    ...
    svclab.cluster.allocators.AllocationError: invalid port range '32767-30000'
    """
    try:
        if "+" in text:
            first, size = (int(part) for part in text.split("+", 1))
            last = first + size - 1
        else:
            first, last = (int(part) for part in text.split("-", 1))
    except ValueError:
        raise AllocationError(f"invalid port range {text!r}") from None
    if not 0 < first <= last <= 65535:
        raise AllocationError(f"invalid port range {text!r}")
    return first, last


class _BandedRange:
    """A range of integers ``[first, first+size)`` whose lowest ``offset`` values are static."""

    def __init__(self, first: int, size: int, offset: int, seed: int) -> None:
        self.first, self.size, self.offset = first, size, offset
        self.used: set[int] = set()
        self._rng = random.Random(seed)

    def take(self, value: int) -> bool:
        if value in self.used:
            return False
        self.used.add(value)
        return True

    def take_next(self) -> int | None:
        # Upper band from a random start, wrapping; then the lower band likewise
        # (upstream's randomScanStrategyWithOffset / allocateNextService).
        for start, stop in ((self.offset, self.size), (0, self.offset)):
            span = stop - start
            if span <= 0:
                continue
            base = self.first + start
            begin = base + self._rng.randrange(span)
            for value in itertools.chain(range(begin, base + span), range(base, begin)):
                if value not in self.used:
                    self.used.add(value)
                    return value
        return None


class ClusterIPAllocator:
    """Allocates Service ClusterIPs from one IPv4 or IPv6 CIDR, deterministically for a seed.

    The usable range starts at the network address + 1; IPv4 also leaves out the broadcast
    address. The first usable address is the one the ``kubernetes`` Service gets.

    >>> v6 = ClusterIPAllocator("fd00:10:96::/112", seed=0)
    >>> v6.family, v6.first, v6.offset
    ('IPv6', 'fd00:10:96::1', 256)
    >>> ClusterIPAllocator("10.0.0.0/16").static_band
    ('10.0.0.1', '10.0.1.0')
    >>> ClusterIPAllocator("10.0.0.0/26").static_band
    ('10.0.0.1', '10.0.0.16')
    >>> ClusterIPAllocator("10.0.0.0/26", banded=False).static_band is None
    True

    ``banded=False`` allocates as Kubernetes did before KEP-3070: anywhere in the range.
    """

    def __init__(self, cidr: str, seed: int = 0, *, banded: bool = True) -> None:
        try:
            self.network = ipaddress.ip_network(cidr, strict=True)
        except ValueError as exc:
            raise AllocationError(f"invalid service CIDR {cidr!r}: {exc}") from None
        self.family = "IPv4" if self.network.version == 4 else "IPv6"
        total = self.network.num_addresses
        usable = total - (2 if self.network.version == 4 else 1)
        self.offset = cluster_ip_offset(total) if banded else 0
        self._range = _BandedRange(
            int(self.network.network_address) + 1, max(usable, 0), self.offset, seed
        )

    @property
    def first(self) -> str:
        """The first usable address."""
        return self._text(self._range.first)

    @property
    def static_band(self) -> tuple[str, str] | None:
        """First and last address of the static band, or None when it is empty."""
        if not self.offset:
            return None
        return self.first, self._text(self._range.first + self.offset - 1)

    @property
    def size(self) -> int:
        """How many addresses can be allocated."""
        return self._range.size

    def is_allocated(self, ip: str) -> bool:
        """Whether ``ip`` is taken.

        >>> ips = ClusterIPAllocator("10.96.0.0/24")
        >>> ips.is_allocated(ips.allocate("10.96.0.10")), ips.is_allocated("10.96.0.11")
        (True, False)
        """
        return int(ipaddress.ip_address(ip)) in self._range.used

    def in_static_band(self, ip: str) -> bool:
        """Whether ``ip`` lies in the static (lower) band."""
        return 0 <= int(ipaddress.ip_address(ip)) - self._range.first < self.offset

    def contains(self, ip: str) -> bool:
        """Whether ``ip`` is an allocatable address of this range."""
        try:
            value = int(ipaddress.ip_address(ip))
        except ValueError:
            return False
        return (
            ipaddress.ip_address(ip).version == self.network.version
            and 0 <= value - self._range.first < self._range.size
        )

    def allocate(self, ip: str | None = None) -> str:
        """Allocate ``ip``, or a random free one when None; `AllocationError` if impossible."""
        if ip is None:
            value = self._range.take_next()
            if value is None:
                raise AllocationError("range is full")
            return self._text(value)
        if not self.contains(ip):
            raise AllocationError(
                f"the provided IP ({ip}) is not in the valid range. "
                f"The range of valid IPs is {self.network}"
            )
        if not self._range.take(int(ipaddress.ip_address(ip))):
            raise AllocationError("provided IP is already allocated")
        return str(ipaddress.ip_address(ip))

    def release(self, ip: str) -> None:
        """Return ``ip`` to the pool (releasing a free address is a no-op)."""
        self._range.used.discard(int(ipaddress.ip_address(ip)))

    def _text(self, value: int) -> str:
        return str(ipaddress.ip_address(value))


class NodePortAllocator:
    """Allocates NodePorts from ``--service-node-port-range``, deterministically for a seed.

    >>> ports = NodePortAllocator("30000-30015", seed=3)
    >>> ports.offset, ports.static_band
    (0, None)
    >>> sorted(ports.allocate() for _ in range(16)) == list(range(30000, 30016))
    True
    >>> ports.allocate()
    Traceback (most recent call last):
    ...
    svclab.cluster.allocators.AllocationError: range is full
    >>> ports.allocate(40000)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    svclab.cluster.allocators.AllocationError: provided port is not in the valid range. ... 30000-30015

    ``banded=False`` allocates as Kubernetes did before KEP-3668: anywhere in the range.
    """

    def __init__(
        self, port_range: str = "30000-32767", seed: int = 0, *, banded: bool = True
    ) -> None:
        self.first, self.last = parse_port_range(port_range)
        size = self.last - self.first + 1
        self.offset = node_port_offset(size) if banded else 0
        self._range = _BandedRange(self.first, size, self.offset, seed)

    @property
    def static_band(self) -> tuple[int, int] | None:
        """First and last port of the static band, or None when it is empty."""
        return (self.first, self.first + self.offset - 1) if self.offset else None

    @property
    def size(self) -> int:
        """How many ports the range holds."""
        return self._range.size

    def is_allocated(self, port: int) -> bool:
        """Whether ``port`` is taken."""
        return port in self._range.used

    def contains(self, port: int) -> bool:
        """Whether ``port`` is inside the range."""
        return self.first <= port <= self.last

    def allocate(self, port: int | None = None) -> int:
        """Allocate ``port``, or a random free one when None; `AllocationError` if impossible."""
        if port is None:
            value = self._range.take_next()
            if value is None:
                raise AllocationError("range is full")
            return value
        if not self.contains(port):
            raise AllocationError(
                "provided port is not in the valid range. "
                f"The range of valid ports is {self.first}-{self.last}"
            )
        if not self._range.take(port):
            raise AllocationError("provided port is already allocated")
        return port

    def release(self, port: int) -> None:
        """Return ``port`` to the pool."""
        self._range.used.discard(port)
