"""Experiment: how a namespace's Services grow every new container's environment, and the
Service count at which this machine's kernel refuses to start the container (``E2BIG``).

Real processes, bounded: for each Service count the environment kubelet would build
(`svclab.cluster.envsize.Growth`) is measured in variables and bytes, a shell holding it times
``/bin/sh -c true``, and a bisection over real ``execve`` calls finds the threshold. The same
with ``enableServiceLinks: false``, where only ``default/kubernetes`` is left.
"""

from __future__ import annotations

from matplotlib.figure import Figure

from svclab.cluster.envsize import (
    Growth,
    env_bytes,
    exec_bytes,
    exec_limit,
    exec_threshold,
    execs,
    shell_start_seconds,
)
from svclab.report.result import Result, say

NAME = "env-limits"
TITLE = {
    "en": "Service variables against the execve limit",
    "zh_CN": "Service 环境变量与 execve 的上限",
}
COUNTS = (10, 100, 1000, 3000, 10_000)
"""Services in the namespace, as in the issue reports (#92615: from 1,000 up)."""
NEAR = 0.95
"""The threshold's fraction also measured: close to the limit, with room for the shell's
own arguments (which count against the same limit)."""


def run(
    *, seed: int = 0, counts: tuple[int, ...] = COUNTS, repeats: int = 5, progress=None
) -> Result:
    """Rows per (Service count, ``enableServiceLinks``): variables, bytes, whether the
    container starts, and a shell's start time (best of up to `repeats` starts).

    ``data["threshold"]`` is the first count at which ``execve`` fails (None if it never does
    up to ``max(counts)``); a count just below it (`NEAR` of it) is measured too. `seed` is accepted for
    the experiments' common interface; nothing here is random.

    >>> r = run(counts=(10, 100), repeats=1)
    >>> [(row["services"], row["links"], row["variables"], row["starts"]) for row in r.rows]
    [(10, True, 88, True), (10, False, 8, True), (100, True, 808, True), (100, False, 8, True)]
    >>> r.data["threshold"] is None
    True
    """
    growth = Growth(max(counts))
    threshold = exec_threshold(growth)
    near = {int(threshold.services * NEAR)} if threshold else set()
    measured = sorted(set(counts) | near)
    rows = []
    for i, count in enumerate(measured):
        for links in (True, False):
            env = growth.environment(count, links)
            starts_ok = execs(env)
            shell = shell_start_seconds(env, repeats) if starts_ok else None
            rows.append(
                {
                    "services": count,
                    "links": links,
                    "variables": len(env),
                    "env_bytes": env_bytes(env),
                    "exec_bytes": exec_bytes(env),
                    "starts": starts_ok,
                    "shell_ms": None if shell is None else round(1e3 * shell, 2),
                }
            )
        if progress:
            progress((i + 1) / len(measured))
    return Result(NAME, rows, {"threshold": threshold, "limit": exec_limit()}, _draw)


LABELS = {
    "links": {
        True: {
            "en": "enableServiceLinks: true (default)",
            "zh_CN": "enableServiceLinks: true（默认）",
        },
        False: {"en": "enableServiceLinks: false", "zh_CN": "enableServiceLinks: false"},
    },
    "services": {
        "en": "Services in the Pod's namespace",
        "zh_CN": "Pod 所在名字空间中的 Service 数",
    },
    "bytes": {"en": "environment handed to execve (MiB)", "zh_CN": "交给 execve 的环境（MiB）"},
    "limit": {"en": "this machine's execve limit", "zh_CN": "本机 execve 的上限"},
    "threshold": {"en": "E2BIG from {n} Services", "zh_CN": "从 {n} 个 Service 起 E2BIG"},
    "shell": {"en": "start of /bin/sh -c true (ms)", "zh_CN": "/bin/sh -c true 的启动时间（毫秒）"},
    "size": {"en": "Environment size", "zh_CN": "环境的大小"},
    "time": {"en": "Shell start time", "zh_CN": "Shell 的启动时间"},
}


def _draw(result: Result, fig: Figure, lang: str) -> None:
    size, time = fig.subplots(1, 2)
    mib = 1024 * 1024
    for links, style in ((True, "o-"), (False, "s--")):
        rows = result.where(links=links)
        label = say(LABELS["links"][links], lang)
        size.plot(
            [r["services"] for r in rows], [r["exec_bytes"] / mib for r in rows], style, label=label
        )
        timed = [r for r in rows if r["shell_ms"] is not None]
        time.plot(
            [r["services"] for r in timed], [r["shell_ms"] for r in timed], style, label=label
        )
    size.axhline(
        result.data["limit"] / mib, color="tab:red", linestyle=":", label=say(LABELS["limit"], lang)
    )
    threshold = result.data["threshold"]
    if threshold is not None:
        for ax in (size, time):
            ax.axvline(
                threshold.services,
                color="tab:red",
                alpha=0.5,
                label=say(LABELS["threshold"], lang).format(n=threshold.services),
            )
    size.set_yscale("log")
    time.set_yscale("log")
    for ax, title, ylabel in ((size, "size", "bytes"), (time, "time", "shell")):
        ax.set_xscale("log")
        ax.set_xlabel(say(LABELS["services"], lang))
        ax.set_ylabel(say(LABELS[ylabel], lang))
        ax.set_title(say(LABELS[title], lang))
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    fig.suptitle(say(TITLE, lang))
