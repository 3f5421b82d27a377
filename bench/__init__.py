"""Benchmarks and evaluations of the service, each run from the repository root as `python -m bench.NAME`."""
