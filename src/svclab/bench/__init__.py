"""Benchmarks, each reported as a ratio against a baseline measured in the same run.

Every module here has ``run(quick: bool = False) -> list[dict]``; ``python -m svclab.bench``
runs them all and prints one table per module.
"""
