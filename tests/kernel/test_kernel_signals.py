"""``svclab kernel demo`` ends on SIGINT with 130 and SIGTERM with 143 at any point, leaving nothing."""

from __future__ import annotations

import signal

import pytest
from kernel_helpers import MANIFESTS, host_snapshot, need_kernel
from signal_helpers import EXPECTED, interrupted

pytestmark = pytest.mark.kernel


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
@pytest.mark.parametrize("delay", (0.3, 1.5, 4.0))
def test_kernel_demo_at_any_moment(delay: float, sig: signal.Signals) -> None:
    need_kernel()
    before = host_snapshot()
    status, err = interrupted(
        ["kernel", "demo", "-f", str(MANIFESTS), "--hostname-override", "node-a"], sig, delay
    )
    assert "Traceback" not in err, err
    assert status == EXPECTED[sig], err
    assert host_snapshot() == before
