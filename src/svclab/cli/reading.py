"""The one way every reading command (render, trace, envvars, dns serve, kernel demo) reads ``-f``.

Skipped input is said on stderr as ``svclab: warning: …`` always; what the component would
ignore as ``svclab: note: …`` with ``--verbose``. Bad input raises `ManifestError` (exit 2).
"""

from __future__ import annotations

import argparse
import sys

from svclab.api.reading import ipv4_proxier_notes, read_state
from svclab.api.state import ClusterState


def read_manifests(
    args: argparse.Namespace, *, data_plane: bool = False, paths: list[str] | None = None
) -> ClusterState:
    """The objects named by ``-f`` (or by `paths`, e.g. ``--since``; ``-R`` recurses);
    `data_plane` adds kube-proxy's own skips."""

    def say(level: str, line: str) -> None:
        if level == "warning" or args.verbose:
            print(f"svclab: {level}: {line}", file=sys.stderr)

    state = read_state(
        (args.filename or []) if paths is None else paths, recursive=args.recursive, say=say
    )
    if data_plane:
        for line in ipv4_proxier_notes(state):
            say("note", line)
    return state
