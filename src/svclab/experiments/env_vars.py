"""Experiment 7: env-var discovery — the ordering pitfall, and how many variables Services add.

Run on the in-process cluster: a client Pod started before its backend Service has no
variables for it until it is recreated (`svclab.cluster.envvars.pod_env`); and every Service in the
namespace adds its block of variables to every container (`svclab.cluster.envvars.service_env`).
"""

from __future__ import annotations

from matplotlib.figure import Figure

from svclab.cluster import Cluster
from svclab.cluster.envvars import pod_env
from svclab.report.result import Result, say

NAME = "env-vars"
TITLE = {"en": "Service discovery by environment variables", "zh_CN": "通过环境变量发现 Service"}


def _pod(name: str, links: bool = True) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"enableServiceLinks": links, "containers": [{"name": "app", "image": "busybox"}]},
    }


def _service(name: str, ports: int) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {
            "selector": {"app": name},
            "ports": [{"name": f"p{i}", "port": 8000 + i} for i in range(ports)],
        },
    }


def run(
    *,
    seed: int = 0,
    service_counts: tuple[int, ...] = (0, 1, 10, 50, 100, 200),
    ports: tuple[int, ...] = (1, 2),
    progress=None,
) -> Result:
    """The ordering pitfall (rows ``case=order``) and variables per container (``case=count``).

    >>> r = run(service_counts=(0, 10), ports=(1,))
    >>> [(row["pod"], row["backend_vars"]) for row in r.where(case="order")]
    [('started before the Service', 0), ('recreated after it', 8)]
    >>> counts = r.where(case="count")
    >>> [(row["services"], row["enable_service_links"], row["variables"]) for row in counts]
    [(0, True, 8), (0, False, 8), (10, True, 88), (10, False, 8)]
    """
    cluster = Cluster(seed=seed)
    cluster.apply(_pod("early"))
    cluster.advance(5)
    cluster.apply(_service("backend", 1))
    cluster.apply(_pod("late"))
    cluster.advance(5)
    state = cluster.state()
    rows = []
    for label, pod in (("started before the Service", "early"), ("recreated after it", "late")):
        env = pod_env(state, cluster.get("Pod", "default", pod))
        rows.append(
            {
                "case": "order",
                "pod": label,
                "backend_vars": sum(name.startswith("BACKEND_") for name, _ in env),
            }
        )
    steps = [(n, p) for p in ports for n in service_counts]
    for i, (n, p) in enumerate(steps):
        rows += _count(seed, n, p)
        if progress:
            progress((i + 1) / len(steps))
    return Result(NAME, rows, {}, _draw)


def _count(seed: int, services: int, ports: int) -> list[dict]:
    """Variables in a container started after `services` Services of `ports` ports each."""
    cluster = Cluster(seed=seed)
    for i in range(services):
        cluster.apply(_service(f"svc-{i}", ports))
    out = []
    for links in (True, False):
        cluster.apply(_pod(f"probe-{links}".lower(), links))
        cluster.advance(5)
        env = pod_env(cluster.state(), cluster.get("Pod", "default", f"probe-{links}".lower()))
        out.append(
            {
                "case": "count",
                "services": services,
                "ports": ports,
                "enable_service_links": links,
                "variables": len(env),
            }
        )
    return out


def _draw(result: Result, fig: Figure, lang: str) -> None:
    ax = fig.subplots()
    for ports in sorted({row["ports"] for row in result.where(case="count")}):
        for links in (True, False):
            rows = result.where(case="count", ports=ports, enable_service_links=links)
            label = {
                "en": f"{ports} port(s) per Service, enableServiceLinks: {str(links).lower()}",
                "zh_CN": f"每个 Service {ports} 个端口，enableServiceLinks: {str(links).lower()}",
            }
            ax.plot(
                [r["services"] for r in rows],
                [r["variables"] for r in rows],
                "o-" if links else "x--",
                label=say(label, lang),
            )
    ax.set_xlabel(
        say({"en": "Services in the namespace", "zh_CN": "命名空间中的 Service 数"}, lang)
    )
    ax.set_ylabel(
        say({"en": "variables in each container", "zh_CN": "每个容器中的环境变量数"}, lang)
    )
    ax.legend()
    fig.suptitle(say(TITLE, lang))
