"""The package's layers are a contract: import-linter checks the ones in pyproject.toml.

A change that imports upward (say `svclab.api` importing `svclab.cluster`), makes one proxy
backend import another, lets a controller import the cluster's wiring or closes an import
cycle fails here, with import-linter's report of the offending import chain.
"""

import tomllib
from pathlib import Path

from importlinter.cli import lint_imports

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def contracts() -> list[dict]:
    return tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"]


def test_the_backends_and_cycles_are_under_contract():
    types = {c["type"] for c in contracts()}
    assert {"layers", "independence", "forbidden", "acyclic_siblings"} <= types


def test_import_contracts_are_kept(capsys):
    code = lint_imports(config_filename=str(PYPROJECT), no_cache=True, no_logo=True)
    report = capsys.readouterr().out
    assert code == 0, report
    assert "0 broken" in report
