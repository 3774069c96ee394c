"""ClusterIP (KEP-3070) and NodePort (KEP-3668) allocators.

Offsets are upstream's unit-test values: ``TestCalculateRangeOffset`` in
``pkg/registry/core/service/ipallocator/bitmap_test.go`` and
``pkg/registry/core/service/portallocator/allocator_test.go`` (see facts §8).
"""

from __future__ import annotations

import ipaddress

import pytest

from svclab.cluster.allocators import (
    AllocationError,
    ClusterIPAllocator,
    NodePortAllocator,
    cluster_ip_offset,
    node_port_offset,
)


@pytest.mark.parametrize(
    ("cidr", "offset"),
    [
        ("192.168.1.0/27", 16),
        ("192.168.1.0/28", 0),
        ("192.168.0.0/22", 64),
        ("10.0.0.0/8", 256),
        ("2001:db8::/122", 16),
        ("2001:db8::/118", 64),
    ],
)
def test_cluster_ip_offsets_match_upstream(cidr: str, offset: int) -> None:
    assert cluster_ip_offset(ipaddress.ip_network(cidr).num_addresses) == offset
    assert ClusterIPAllocator(cidr).offset == offset


@pytest.mark.parametrize(
    ("size", "offset"), [(2768, 86), (128, 16), (2048, 64), (4096, 128), (16, 0)]
)
def test_node_port_offsets_match_upstream(size: int, offset: int) -> None:
    assert node_port_offset(size) == offset
    assert NodePortAllocator(f"30000+{size}").offset == offset


@pytest.mark.parametrize(
    ("cidr", "band"),
    [
        # KEP-3070 README examples
        ("192.168.0.0/16", ("192.168.0.1", "192.168.1.0")),
        ("192.168.0.0/22", ("192.168.0.1", "192.168.0.64")),
        ("192.168.0.0/26", ("192.168.0.1", "192.168.0.16")),
    ],
)
def test_static_bands_of_the_kep(cidr: str, band: tuple[str, str]) -> None:
    assert ClusterIPAllocator(cidr).static_band == band


def test_default_node_port_static_band() -> None:
    assert NodePortAllocator("30000-32767").static_band == (30000, 30085)


def test_dynamic_ips_fill_the_upper_band_before_the_static_one() -> None:
    ips = ClusterIPAllocator("10.0.0.0/27", seed=7)  # 30 usable, 16 static
    upper = [ips.allocate() for _ in range(14)]
    assert not any(ips.in_static_band(ip) for ip in upper)
    assert sorted(upper, key=ipaddress.ip_address) == [f"10.0.0.{i}" for i in range(17, 31)]
    fallback = ips.allocate()
    assert ips.in_static_band(fallback)
    rest = [ips.allocate() for _ in range(15)]
    assert {fallback, *rest} == {f"10.0.0.{i}" for i in range(1, 17)}
    with pytest.raises(AllocationError, match=r"^range is full$"):
        ips.allocate()


def test_network_and_broadcast_are_never_handed_out() -> None:
    ips = ClusterIPAllocator("10.0.0.0/30")
    assert sorted(ips.allocate() for _ in range(2)) == ["10.0.0.1", "10.0.0.2"]
    for address in ("10.0.0.0", "10.0.0.3"):
        with pytest.raises(AllocationError, match="is not in the valid range"):
            ips.allocate(address)


def test_allocation_is_deterministic_for_a_seed() -> None:
    a, b, c = (ClusterIPAllocator("10.96.0.0/12", seed=s) for s in (3, 3, 4))
    seq_a = [a.allocate() for _ in range(20)]
    assert seq_a == [b.allocate() for _ in range(20)]
    assert seq_a != [c.allocate() for _ in range(20)]


def test_explicit_requests() -> None:
    ips = ClusterIPAllocator("10.96.0.0/12")
    assert ips.allocate("10.96.0.10") == "10.96.0.10"
    with pytest.raises(AllocationError, match=r"^provided IP is already allocated$"):
        ips.allocate("10.96.0.10")
    with pytest.raises(AllocationError) as caught:
        ips.allocate("10.112.0.1")
    assert str(caught.value) == (
        "the provided IP (10.112.0.1) is not in the valid range. "
        "The range of valid IPs is 10.96.0.0/12"
    )
    ips.release("10.96.0.10")
    assert ips.allocate("10.96.0.10") == "10.96.0.10"


def test_ipv6_range() -> None:
    ips = ClusterIPAllocator("fd00:10:96::/112", seed=1)
    ip = ips.allocate()
    assert ipaddress.ip_address(ip) in ipaddress.ip_network("fd00:10:96::/112")
    assert not ips.in_static_band(ip)
    assert ips.allocate("fd00:10:96::ffff") == "fd00:10:96::ffff"  # no broadcast in IPv6
    with pytest.raises(AllocationError, match="not in the valid range"):
        ips.allocate("10.96.0.1")


def test_node_ports_fill_the_upper_band_first() -> None:
    ports = NodePortAllocator("30000-32767", seed=5)
    dynamic = [ports.allocate() for _ in range(2768 - 86)]
    assert min(dynamic) == 30086 and max(dynamic) == 32767 and len(set(dynamic)) == len(dynamic)
    assert 30000 <= ports.allocate() <= 30085


def test_node_port_explicit_requests() -> None:
    ports = NodePortAllocator("30000-32767")
    assert ports.allocate(30080) == 30080
    with pytest.raises(AllocationError, match=r"^provided port is already allocated$"):
        ports.allocate(30080)
    with pytest.raises(
        AllocationError,
        match=r"^provided port is not in the valid range. The range of valid ports is 30000-32767$",
    ):
        ports.allocate(8080)


def test_bad_ranges_are_rejected() -> None:
    with pytest.raises(AllocationError, match="invalid service CIDR"):
        ClusterIPAllocator("10.96.0.1/12")
    with pytest.raises(AllocationError, match="invalid port range"):
        NodePortAllocator("a-b")
