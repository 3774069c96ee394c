"""One error type for bad input, printed as one line: file, object, field, rule.

>>> err = ManifestError("svc.yaml", "Service default/web", "spec.ports[0].port", "must be 1-65535")
>>> str(err)
'svc.yaml: Service default/web: spec.ports[0].port: must be 1-65535'
>>> str(ManifestError("-", "", "", "no such file"))
'-: no such file'
"""

from __future__ import annotations


class SvclabError(Exception):
    """Base of every error svclab reports to a user (the CLI prints it and exits 2)."""


class ManifestError(SvclabError):
    """A manifest, flag or packet that svclab cannot accept, and why."""

    def __init__(self, source: str, obj: str, field: str, rule: str) -> None:
        self.source, self.obj, self.field, self.rule = source, obj, field, rule
        super().__init__(": ".join(part for part in (source, obj, field, rule) if part))
