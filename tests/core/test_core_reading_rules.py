"""Every reading command shares one reader and one set of rules (issues 12 §2, 17, 18).

Reading is not creating: what kube-proxy or kubelet ignore is accepted (upstream's own proxier
test Services pass), what no API server could have stored is refused in one line with exit 2,
and what is skipped is said on stderr.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from svclab.cli import main

DATA = Path(__file__).resolve().parents[1] / "data"

UPSTREAM = [
    DATA / "proxy" / "iptables" / "overall.yaml",
    DATA / "proxy_nft" / "overall.yaml",
    DATA / "proxy_nft" / "flows" / "internal_external_masquerade.yaml",
    DATA / "proxy_nft" / "flows" / "terminating_service_cluster.yaml",
    DATA / "proxy" / "iptables" / "flows" / "term_cluster_ready.yaml",
]

SERVICE = """\
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {clusterIP: 10.96.0.5, selector: {app: web}, ports: [{port: 80}]}
"""


def slice_with(addresses: list[str]) -> str:
    endpoints = ", ".join(f"{{addresses: [{a}]}}" for a in addresses)
    return (
        "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
        "metadata: {name: web-1, labels: {kubernetes.io/service-name: web}}\n"
        f"addressType: IPv4\nendpoints: [{endpoints}]\nports: [{{port: 8080}}]\n"
    )


READERS = [
    ["render", "iptables"],
    ["render", "nftables"],
    ["render", "ipvs"],
    ["trace", "iptables", "--src", "10.0.0.9", "--dst", "10.96.0.5", "--dport", "80"],
    ["trace", "nftables", "--src", "10.0.0.9", "--dst", "10.96.0.5", "--dport", "80"],
    ["envvars"],
]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main([*args, "--hostname-override", "n1"] if args[0] in ("render", "trace") else args)
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("manifest", UPSTREAM, ids=lambda p: f"{p.parent.name}/{p.stem}")
@pytest.mark.parametrize("mode", ["iptables", "nftables"])
def test_upstream_proxier_test_services_render_and_trace(
    capsys: pytest.CaptureFixture[str], manifest: Path, mode: str
) -> None:
    """They carry a healthCheckNodePort on Cluster-policy Services, which kube-proxy ignores."""
    status, out, err = run(capsys, "render", mode, "-f", str(manifest))
    assert status == 0, err
    assert out
    status, out, err = run(
        capsys, "trace", mode, "-f", str(manifest), "--src", "10.0.0.9",
        "--dst", "172.30.0.41", "--dport", "80",
    )  # fmt: skip
    assert status == 0, err
    assert out.startswith("packet: tcp 10.0.0.9 -> 172.30.0.41:80")


def test_ignored_health_check_node_port_is_said_with_verbose(
    capsys: pytest.CaptureFixture[str],
) -> None:
    manifest = str(DATA / "proxy" / "iptables" / "overall.yaml")
    status, _, err = run(capsys, "render", "iptables", "-f", manifest)
    assert status == 0 and "healthCheckNodePort" not in err
    status, _, err = run(capsys, "render", "iptables", "-f", manifest, "--verbose")
    assert status == 0
    assert (
        f"svclab: note: {manifest}: Service ns5/svc5: spec.healthCheckNodePort: ignored: "
        "kube-proxy serves health checks only for externalTrafficPolicy Local"
    ) in err.splitlines()


@pytest.mark.parametrize(
    ("addresses", "field", "rule"),
    [
        (["999.1.1.1"], "endpoints[0].addresses[0]", 'Invalid value: "999.1.1.1"'),
        ([f"10.1.{i // 250}.{i % 250 + 1}" for i in range(1001)], "endpoints", "Too many: 1001"),
    ],
    ids=["bad-address", "1001-endpoints"],
)
@pytest.mark.parametrize("command", READERS, ids=lambda c: "-".join(c[:2]))
def test_every_reader_refuses_what_no_api_server_stores(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    command: list[str],
    addresses: list[str],
    field: str,
    rule: str,
) -> None:
    manifest = tmp_path / "web.yaml"
    manifest.write_text(SERVICE + "---\n" + slice_with(addresses))
    status, out, err = run(capsys, *command, "-f", str(manifest))
    assert (status, out) == (2, "")
    [line] = err.splitlines()
    assert line.startswith(f"svclab: {manifest}: EndpointSlice default/web-1: {field}: {rule}")


def test_a_slice_of_1000_endpoints_is_read(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """1,000 endpoints is the API server's own limit per slice (maxEndpointsPerSlice)."""
    manifest = tmp_path / "web.yaml"
    addresses = [f"10.1.{i // 250}.{i % 250 + 1}" for i in range(1000)]
    manifest.write_text(SERVICE + "---\n" + slice_with(addresses))
    status, out, err = run(capsys, "render", "iptables", "-f", str(manifest))
    assert status == 0, err
    assert out.count("-j KUBE-SEP-") == 1000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["render", "ipvs", "--ipvs-scheduler", "nosuch"],
            "--ipvs-scheduler: invalid choice: 'nosuch'",
        ),
        (["kernel", "demo", "--timeout", "-1"], "--timeout: -1 is not a positive number"),
        (["kernel", "demo", "--timeout", "nan"], "--timeout: nan is not a positive number"),
        (["sandbox", "up", "--port", "70000"], "--port: 70000 is not a port (0-65535)"),
    ],
    ids=["ipvs-scheduler", "negative-timeout", "nan-timeout", "sandbox-port"],
)
def test_values_are_checked(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], message: str
) -> None:
    manifest = tmp_path / "web.yaml"
    manifest.write_text(SERVICE)
    with pytest.raises(SystemExit) as caught:
        main([*args, "-f", str(manifest)])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


@pytest.mark.parametrize("command", READERS, ids=lambda c: "-".join(c[:2]))
def test_skipped_input_is_said(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: list[str]
) -> None:
    manifest = tmp_path / "web.yaml"
    manifest.write_text(
        SERVICE.replace("ports:", "bogus: 1, ports:")
        + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\n"
    )
    (tmp_path / "empty.yaml").write_text("# nothing\n")
    status, _, err = run(capsys, *command, "-f", str(tmp_path))
    assert status == 0, err
    assert err.splitlines() == [
        f"svclab: warning: {tmp_path / 'empty.yaml'}: no objects",
        f'svclab: warning: {manifest}: Service default/web: unknown field "spec.bogus"',
        f"svclab: warning: {manifest}: ConfigMap default/cfg: skipped: svclab does not read "
        "kind ConfigMap (v1)",
    ]


def test_an_empty_folder_is_said(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, _, err = run(capsys, "envvars", "-f", str(tmp_path))
    assert status == 0
    assert err == f"svclab: warning: {tmp_path}: no manifest files (.yaml, .yml, .json)\n"


def test_data_planes_say_what_an_ipv4_proxier_skips_with_verbose(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    manifest = tmp_path / "v6.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: Service\nmetadata: {name: v6}\n"
        "spec: {clusterIP: 'fd00::5', ipFamilies: [IPv6], ports: [{port: 80}]}\n"
    )
    status, _, err = run(capsys, "render", "iptables", "-f", str(manifest), "--verbose")
    assert status == 0
    assert err == (
        f"svclab: note: {manifest}: Service default/v6: spec.clusterIPs: ignored: "
        "no IPv4 address, and svclab models kube-proxy's IPv4 proxier only\n"
    )


def test_a_bad_load_balancer_ingress_ip_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The API server validates status.loadBalancer.ingress[].ip: it could never be stored."""
    manifest = tmp_path / "lb.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: Service\nmetadata: {name: lb}\n"
        "spec: {type: LoadBalancer, clusterIP: 10.96.0.7, ports: [{port: 80, nodePort: 30080}]}\n"
        "status: {loadBalancer: {ingress: [{ip: 1.2.3.999}]}}\n"
    )
    status, out, err = run(capsys, "render", "iptables", "-f", str(manifest))
    assert (status, out) == (2, "")
    assert err == (
        f"svclab: {manifest}: Service default/lb: status.loadBalancer.ingress[0].ip: "
        'Invalid value: "1.2.3.999": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)\n'
    )


def test_node_port_99999_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    manifest = tmp_path / "np.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: Service\nmetadata: {name: np}\n"
        "spec: {type: NodePort, clusterIP: 10.96.0.8, ports: [{port: 80, nodePort: 99999}]}\n"
    )
    status, _, err = run(capsys, "envvars", "-f", str(manifest))
    assert status == 2
    assert err == (
        f"svclab: {manifest}: Service default/np: spec.ports[0].nodePort: "
        "Invalid value: 99999: must be between 1 and 65535, inclusive\n"
    )


def test_huge_values_are_cut_in_messages(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    manifest = tmp_path / "big.yaml"
    manifest.write_text(SERVICE.replace("name: web", "name: " + "X" * 1_000_000))
    status, _, err = run(capsys, "envvars", "-f", str(manifest))
    assert status == 2
    assert len(err) < 1000, err[:300]
    assert 'Invalid value: "XXXX' in err and "(1000000 characters)" in err


def test_two_objects_with_one_name_are_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """No store holds two Services default/web: which one a reader means is not knowable."""
    (tmp_path / "a.yaml").write_text(SERVICE)
    (tmp_path / "b.yaml").write_text(SERVICE.replace("10.96.0.5", "10.96.0.6"))
    status, out, err = run(capsys, "render", "iptables", "-f", str(tmp_path))
    assert (status, out) == (2, "")
    assert err == (
        f"svclab: {tmp_path / 'b.yaml'}: Service default/web: metadata.name: "
        f'Duplicate value: "web": also in {tmp_path / "a.yaml"}\n'
    )


def test_a_folder_is_read_like_kubectl(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The folder's own .yaml/.yml/.json files; subfolders only with -R."""
    (tmp_path / "web.yaml").write_text(SERVICE)
    (tmp_path / "notes.txt").write_text("not a manifest")
    deeper = tmp_path / "more"
    deeper.mkdir()
    (deeper / "api.yaml").write_text(SERVICE.replace("web", "api").replace(".5", ".6"))
    status, out, err = run(capsys, "envvars", "-f", str(tmp_path))
    assert status == 0, err
    assert "WEB_SERVICE_HOST=10.96.0.5" in out and "API_SERVICE_HOST" not in out
    status, out, err = run(capsys, "envvars", "-R", "-f", str(tmp_path))
    assert status == 0, err
    assert "API_SERVICE_HOST=10.96.0.6" in out
