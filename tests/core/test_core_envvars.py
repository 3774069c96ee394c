"""kubelet's Service environment variables.

Golden cases: ``TestFromServices`` in ``pkg/kubelet/envvars/envvars_test.go`` (exact order) and
the Service-related cases of ``TestMakeEnvironmentVariables`` in
``pkg/kubelet/kubelet_pods_test.go``
(that test sorts both sides by name before comparing, so these do too).
"""

from __future__ import annotations

from pathlib import Path

import kubernetes.client as k8s
import pytest

from svclab.cli import main
from svclab.cluster import Cluster
from svclab.cluster.envvars import expand, from_services, service_env


def svc(name: str, namespace: str, cluster_ip: str, *ports: tuple[str, int, str]) -> k8s.V1Service:
    return k8s.V1Service(
        metadata=k8s.V1ObjectMeta(name=name, namespace=namespace),
        spec=k8s.V1ServiceSpec(
            cluster_ip=cluster_ip,
            selector={"bar": "baz"},
            ports=[
                k8s.V1ServicePort(name=n or None, port=p, protocol=proto) for n, p, proto in ports
            ],
        ),
    )


def block(prefix: str, ip: str, port: int) -> list[tuple[str, str]]:
    url = f"tcp://{ip}:{port}"
    return [
        (f"{prefix}_SERVICE_HOST", ip),
        (f"{prefix}_SERVICE_PORT", str(port)),
        (f"{prefix}_PORT", url),
        (f"{prefix}_PORT_{port}_TCP", url),
        (f"{prefix}_PORT_{port}_TCP_PROTO", "tcp"),
        (f"{prefix}_PORT_{port}_TCP_PORT", str(port)),
        (f"{prefix}_PORT_{port}_TCP_ADDR", ip),
    ]


def test_from_services_golden() -> None:
    """envvars_test.go TestFromServices, in its exact order."""
    services = [
        svc("foo-bar", "", "1.2.3.4", ("", 8080, "TCP")),
        svc("abc-123", "", "5.6.7.8", ("u-d-p", 8081, "UDP"), ("t-c-p", 8081, "TCP")),
        svc("q-u-u-x", "", "9.8.7.6", ("", 8082, "TCP"), ("8083", 8083, "TCP")),
        svc("svrc-clusterip-none", "", "None", ("", 8082, "TCP")),
        svc("svrc-clusterip-empty", "", "", ("", 8082, "TCP")),
    ]
    assert from_services(services) == [
        *block("FOO_BAR", "1.2.3.4", 8080),
        ("ABC_123_SERVICE_HOST", "5.6.7.8"),
        ("ABC_123_SERVICE_PORT", "8081"),
        ("ABC_123_SERVICE_PORT_U_D_P", "8081"),
        ("ABC_123_SERVICE_PORT_T_C_P", "8081"),
        ("ABC_123_PORT", "udp://5.6.7.8:8081"),
        ("ABC_123_PORT_8081_UDP", "udp://5.6.7.8:8081"),
        ("ABC_123_PORT_8081_UDP_PROTO", "udp"),
        ("ABC_123_PORT_8081_UDP_PORT", "8081"),
        ("ABC_123_PORT_8081_UDP_ADDR", "5.6.7.8"),
        ("ABC_123_PORT_8081_TCP", "tcp://5.6.7.8:8081"),
        ("ABC_123_PORT_8081_TCP_PROTO", "tcp"),
        ("ABC_123_PORT_8081_TCP_PORT", "8081"),
        ("ABC_123_PORT_8081_TCP_ADDR", "5.6.7.8"),
        ("Q_U_U_X_SERVICE_HOST", "9.8.7.6"),
        ("Q_U_U_X_SERVICE_PORT", "8082"),
        ("Q_U_U_X_SERVICE_PORT_8083", "8083"),
        ("Q_U_U_X_PORT", "tcp://9.8.7.6:8082"),
        ("Q_U_U_X_PORT_8082_TCP", "tcp://9.8.7.6:8082"),
        ("Q_U_U_X_PORT_8082_TCP_PROTO", "tcp"),
        ("Q_U_U_X_PORT_8082_TCP_PORT", "8082"),
        ("Q_U_U_X_PORT_8082_TCP_ADDR", "9.8.7.6"),
        ("Q_U_U_X_PORT_8083_TCP", "tcp://9.8.7.6:8083"),
        ("Q_U_U_X_PORT_8083_TCP_PROTO", "tcp"),
        ("Q_U_U_X_PORT_8083_TCP_PORT", "8083"),
        ("Q_U_U_X_PORT_8083_TCP_ADDR", "9.8.7.6"),
    ]


# The Services of TestMakeEnvironmentVariables (buildService: one unnamed TCP port).
KUBELET_SERVICES = [
    svc("kubernetes", "default", "1.2.3.1", ("", 8081, "TCP")),
    svc("test", "test1", "1.2.3.3", ("", 8083, "TCP")),
    svc("kubernetes", "test2", "1.2.3.4", ("", 8084, "TCP")),
    svc("test", "test2", "1.2.3.5", ("", 8085, "TCP")),
    svc("test", "test2", "None", ("", 8085, "TCP")),
    svc("test", "test2", "", ("", 8085, "TCP")),
    svc("not-special", "default", "1.2.3.8", ("", 8088, "TCP")),
    svc("not-special", "default", "None", ("", 8088, "TCP")),
    svc("not-special", "default", "", ("", 8088, "TCP")),
]
TEST1 = block("TEST", "1.2.3.3", 8083)
MASTER = block("KUBERNETES", "1.2.3.1", 8081)

MAKE_ENV_CASES = [
    (
        "api server = Y, kubelet = Y",
        "test1",
        False,
        [("FOO", "BAR"), *TEST1],
        [("FOO", "BAR"), *TEST1, *MASTER],
    ),
    ("api server = N; kubelet = Y", "test1", False, [("FOO", "BAZ")], [("FOO", "BAZ"), *MASTER]),
    (
        "api server = N; kubelet = Y; service env vars",
        "test1",
        True,
        [("FOO", "BAZ")],
        [("FOO", "BAZ"), *TEST1, *MASTER],
    ),
    ("master service in pod ns", "test2", False, [("FOO", "ZAP")], [("FOO", "ZAP"), *MASTER]),
    (
        "master service in pod ns, service env vars",
        "test2",
        True,
        [("FOO", "ZAP")],
        [("FOO", "ZAP"), *block("TEST", "1.2.3.5", 8085), *block("KUBERNETES", "1.2.3.4", 8084)],
    ),
    ("pod in master service ns", "default", False, [], MASTER),
    (
        "pod in master service ns, service env vars",
        "default",
        True,
        [],
        [*block("NOT_SPECIAL", "1.2.3.8", 8088), *MASTER],
    ),
]


@pytest.mark.parametrize(
    ("case", "ns", "links", "env", "expected"), MAKE_ENV_CASES, ids=[c[0] for c in MAKE_ENV_CASES]
)
def test_make_environment_variables_golden(
    case: str, ns: str, links: bool, env: list[tuple[str, str]], expected: list[tuple[str, str]]
) -> None:
    container_env = [k8s.V1EnvVar(name=n, value=v) for n, v in env]
    got = service_env(KUBELET_SERVICES, ns, enable_service_links=links, container_env=container_env)
    assert sorted(got) == sorted(expected)
    assert len({n for n, _ in got}) == len(got)  # no name twice, even when the container sets it


def test_env_expansion_with_service_variables_golden() -> None:
    """kubelet_pods_test.go TestMakeEnvironmentVariables "env expansion, service env vars"."""
    pod = k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(name="dapi-test-pod-name", namespace="test1"),
        spec=k8s.V1PodSpec(containers=[]),
    )
    field = k8s.V1EnvVarSource(
        field_ref=k8s.V1ObjectFieldSelector(api_version="v1", field_path="metadata.name")
    )
    env = [
        k8s.V1EnvVar(name="TEST_LITERAL", value="test-test-test"),
        k8s.V1EnvVar(name="POD_NAME", value_from=field),
        k8s.V1EnvVar(name="OUT_OF_ORDER_TEST", value="$(OUT_OF_ORDER_TARGET)"),
        k8s.V1EnvVar(name="OUT_OF_ORDER_TARGET", value="FOO"),
        k8s.V1EnvVar(name="EMPTY_VAR"),
        k8s.V1EnvVar(name="EMPTY_TEST", value="foo-$(EMPTY_VAR)"),
        k8s.V1EnvVar(name="POD_NAME_TEST2", value="test2-$(POD_NAME)"),
        k8s.V1EnvVar(name="POD_NAME_TEST3", value="$(POD_NAME_TEST2)-3"),
        k8s.V1EnvVar(name="LITERAL_TEST", value="literal-$(TEST_LITERAL)"),
        k8s.V1EnvVar(name="SERVICE_VAR_TEST", value="$(TEST_SERVICE_HOST):$(TEST_SERVICE_PORT)"),
        k8s.V1EnvVar(name="TEST_UNDEFINED", value="$(UNDEFINED_VAR)"),
    ]
    got = service_env(KUBELET_SERVICES, "test1", container_env=env, pod=pod)
    expected = [
        ("TEST_LITERAL", "test-test-test"),
        ("POD_NAME", "dapi-test-pod-name"),
        ("POD_NAME_TEST2", "test2-dapi-test-pod-name"),
        ("POD_NAME_TEST3", "test2-dapi-test-pod-name-3"),
        ("LITERAL_TEST", "literal-test-test-test"),
        *TEST1,
        ("SERVICE_VAR_TEST", "1.2.3.3:8083"),
        ("OUT_OF_ORDER_TEST", "$(OUT_OF_ORDER_TARGET)"),
        ("OUT_OF_ORDER_TARGET", "FOO"),
        ("TEST_UNDEFINED", "$(UNDEFINED_VAR)"),
        ("EMPTY_VAR", ""),
        ("EMPTY_TEST", "foo-"),
        *MASTER,
    ]
    assert sorted(got) == sorted(expected)
    assert [n for n, _ in got[: len(env)]] == [
        e.name for e in env
    ]  # container's own first, as declared


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # third_party/forked/golang/expansion/expand_test.go doExpansionTest (TestMappingDual)
        ("$(VAR_A)", "A"),
        ("$(VAR_A)-$(VAR_A)", "A-A"),
        ("___$(VAR_B)___", "___B___"),
        ("$(VAR_A)_$(VAR_B)_$(VAR_C)", "A_B_C"),
        ("$$(VAR_B)_$(VAR_A)", "$(VAR_B)_A"),
        ("f000-$$VAR_A", "f000-$VAR_A"),
        ("foo\\$(VAR_C)bar", "foo\\Cbar"),
        ("$(VAR_A$(VAR_B))", "$(VAR_A$(VAR_B))"),
        ("$(VAR_A$(VAR_B)", "$(VAR_A$(VAR_B)"),
        ("$(VAR_REF)", "$(VAR_A)"),
        ("foo$(VAR_EMPTY)bar", "foobar"),
        ("foo$(VAR_Awhoops!", "foo$(VAR_Awhoops!"),
        ("f00__(VAR_A)__", "f00__(VAR_A)__"),
        ("$?_boo_$!", "$?_boo_$!"),
        ("$VAR_A", "$VAR_A"),
        ("$(VAR_DNE)", "$(VAR_DNE)"),
        ("$$$$$$(BIG_MONEY)", "$$$(BIG_MONEY)"),
        ("$$$$$$(VAR_A)", "$$$(VAR_A)"),
        ("$$$$$$$(GOOD_ODDS)", "$$$$(GOOD_ODDS)"),
        ("$$$$$$$(VAR_A)", "$$$A"),
        ("$VAR_A)", "$VAR_A)"),
        ("${VAR_A}", "${VAR_A}"),
        ("$(VAR_B)_______$(A", "B_______$(A"),
        ("$(VAR_C)_______$(", "C_______$("),
        ("$(VAR_A)foobarzab$", "Afoobarzab$"),
        ("--$($($($($--", "--$($($($($--"),
        ("$($($($($--foo$(", "$($($($($--foo$("),
        ("$(foo$$var)", "$(foo$$var)"),
        ("\n", "\n"),
    ],
)
def test_expansion(text: str, expected: str) -> None:
    first = {"VAR_A": "A", "VAR_EMPTY": ""}
    second = {"VAR_B": "B", "VAR_C": "C", "VAR_REF": "$(VAR_A)"}
    assert expand(text, first, second) == expected


def test_ipv6_cluster_ip_is_bracketed_only_in_urls() -> None:
    env = dict(from_services([svc("db", "default", "fd00::10", ("pg", 5432, ""))]))
    assert env["DB_SERVICE_HOST"] == "fd00::10"
    assert env["DB_PORT"] == env["DB_PORT_5432_TCP"] == "tcp://[fd00::10]:5432"
    assert env["DB_PORT_5432_TCP_ADDR"] == "fd00::10"


def test_external_name_services_get_nothing() -> None:
    ext = k8s.V1Service(
        metadata=k8s.V1ObjectMeta(name="ext", namespace="default"),
        spec=k8s.V1ServiceSpec(type="ExternalName", external_name="db.example.com"),
    )
    assert from_services([ext]) == []


def test_ordering_pitfall_in_a_cluster() -> None:
    """A Pod started before its backend Service never sees it; one started after does."""
    c = Cluster(seed=20)
    c.apply(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "early"},
            "spec": {"containers": [{"name": "app", "image": "busybox"}]},
        }
    )
    c.advance(5)
    backend = c.apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "backend"},
            "spec": {"selector": {"app": "backend"}, "ports": [{"port": 80}]},
        }
    )
    c.apply(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "late"},
            "spec": {"containers": [{"name": "app", "image": "busybox"}]},
        }
    )
    c.advance(5)
    early, late = dict(c.pod_env("default", "early")), dict(c.pod_env("default", "late"))
    assert "BACKEND_SERVICE_HOST" not in early and "KUBERNETES_SERVICE_HOST" in early
    assert late["BACKEND_SERVICE_HOST"] == backend.spec.cluster_ip
    assert late["KUBERNETES_SERVICE_HOST"] == "10.96.0.1"
    assert late["KUBERNETES_SERVICE_PORT_HTTPS"] == "443"


def test_enable_service_links_false_keeps_only_kubernetes() -> None:
    c = Cluster(seed=21)
    c.apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "backend"},
            "spec": {"selector": {"app": "b"}, "ports": [{"port": 80}]},
        }
    )
    c.apply(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p"},
            "spec": {
                "enableServiceLinks": False,
                "containers": [{"name": "app", "image": "busybox"}],
            },
        }
    )
    c.advance(2)
    assert {n.split("_")[0] for n, _ in c.pod_env("default", "p")} == {"KUBERNETES"}


CLI_MANIFESTS = """\
apiVersion: v1
kind: Service
metadata: {name: kubernetes, namespace: default, creationTimestamp: "2025-01-01T00:00:00Z"}
spec: {clusterIP: 10.96.0.1, ports: [{name: https, port: 443, targetPort: 6443}]}
---
apiVersion: v1
kind: Service
metadata: {name: web-api, namespace: shop, creationTimestamp: "2025-01-01T00:10:00Z"}
spec: {clusterIP: 10.96.0.20, ports: [{name: http, port: 80}, {name: grpc, port: 9090}]}
---
apiVersion: v1
kind: Service
metadata: {name: lookup, namespace: shop, creationTimestamp: "2025-01-01T00:00:00Z"}
spec: {clusterIP: None, ports: [{port: 53}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: shop}
spec:
  containers:
  - {name: app, image: busybox, env: [{name: WEB_API_SERVICE_PORT, value: "8080"}]}
status: {phase: Running, startTime: "2025-01-01T00:05:00Z"}
"""


def _cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> list[str]:
    (tmp_path / "m.yaml").write_text(CLI_MANIFESTS)
    assert main(["envvars", "-f", str(tmp_path / "m.yaml"), *args]) == 0
    return capsys.readouterr().out.splitlines()


def test_cli_prints_kubelets_blocks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = _cli(tmp_path, capsys, "--namespace", "shop")
    assert lines[:4] == [
        "KUBERNETES_SERVICE_HOST=10.96.0.1",
        "KUBERNETES_SERVICE_PORT=443",
        "KUBERNETES_SERVICE_PORT_HTTPS=443",
        "KUBERNETES_PORT=tcp://10.96.0.1:443",
    ]
    assert "WEB_API_SERVICE_PORT_GRPC=9090" in lines
    assert "WEB_API_PORT=tcp://10.96.0.20:80" in lines  # the first port only
    assert not any(line.startswith("LOOKUP_") for line in lines)  # headless
    assert len(lines) == 8 + 13


def test_cli_no_service_links(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = _cli(tmp_path, capsys, "--namespace", "shop", "--no-service-links")
    assert all(line.startswith("KUBERNETES_") for line in lines) and len(lines) == 8


def test_cli_pod_sees_only_services_older_than_itself(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _cli(tmp_path, capsys, "--namespace", "shop", "--pod", "client")
    assert lines[0] == "WEB_API_SERVICE_PORT=8080"  # the container's own value, first
    assert not any(
        line.startswith("WEB_API_SERVICE_HOST") for line in lines
    )  # created after the Pod
    assert len(lines) == 1 + 8
